"""
Analytics models, one module per concern:

- `statements`: the xAPI learning record store and its flattened query table;
- `engagement`: engagement events from the other apps and their daily rollups;
- `reports`: scheduled reports, their executions (CSV + PDF) and per-target deliveries;
- `console`: the audit log of the safe query console (which also carries its permission);
- `xapi_documents`: the State, Activity Profile and Agent Profile documents of the store.
- `attachments`: the raw attachments of xAPI statements, one row per SHA-2.
"""

from analytics.models.attachments import StatementAttachment
from analytics.models.console import QueryRun
from analytics.models.engagement import (
    CohortEngagementDay,
    EngagementEvent,
    EngagementMetric,
    LearnerEngagementDay,
)
from analytics.models.reports import (
    ExecutionStatus,
    ReportDelivery,
    ReportDeliveryAttempt,
    ReportDeliveryState,
    ReportExecution,
    ReportSchedule,
    ReportTarget,
    TargetKind,
)
from analytics.models.statements import (
    EtlCheckpoint,
    Statement,
    StatementFlat,
    XapiCredential,
    XapiScope,
)
from analytics.models.xapi_documents import DocumentKind, XapiDocument

__all__ = [
    "CohortEngagementDay",
    "DocumentKind",
    "EngagementEvent",
    "EngagementMetric",
    "EtlCheckpoint",
    "ExecutionStatus",
    "LearnerEngagementDay",
    "QueryRun",
    "ReportDelivery",
    "ReportDeliveryAttempt",
    "ReportDeliveryState",
    "ReportExecution",
    "ReportSchedule",
    "ReportTarget",
    "Statement",
    "StatementAttachment",
    "StatementFlat",
    "TargetKind",
    "XapiCredential",
    "XapiDocument",
    "XapiScope",
]
