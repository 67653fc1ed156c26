"""The returns app's public service layer."""

from returns.calculator import RefundCalculator
from returns.policy import PolicyEngine, ReturnPolicy
from returns.services.orders import order_record_delivery, order_upsert
from returns.services.returns import RetryOutcome, ReturnsService

__all__ = [
    "PolicyEngine",
    "RefundCalculator",
    "RetryOutcome",
    "ReturnPolicy",
    "ReturnsService",
    "order_record_delivery",
    "order_upsert",
]
