"""Refusals of scheduled reports; each has a stable code and maps to a 4xx."""

from core.errors import DomainError


class ReportScheduleError(DomainError):
    code = "report_schedule_error"


class ReportLinkInvalidError(ReportScheduleError):
    code = "report_link_invalid"
    status_code = 404
    default_message = "This download link is not valid."


class ReportLinkExpiredError(ReportScheduleError):
    code = "report_link_expired"
    status_code = 410
    default_message = "This download link has expired; ask for the report to be sent again."


class ReportFileMissingError(ReportScheduleError):
    code = "report_file_missing"
    status_code = 404
    default_message = "This report run has no such file."


class ReportDeliveryStateError(ReportScheduleError):
    code = "report_delivery_state"
    status_code = 409
    default_message = "The report delivery cannot make this transition from its current state."


class ReportScheduleInactiveError(ReportScheduleError):
    code = "report_schedule_inactive"
    status_code = 409
    default_message = "The schedule is paused; activate it first."
