"""Small, frozen result objects the returns services hand back (seed 003's result classes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class ReturnItemData:
    line_item_id: str
    product_id: str
    quantity: int
    condition: str


@dataclass(frozen=True)
class ReturnRequestData:
    id: int
    rma_number: str
    order_id: str
    status: str
    items: tuple[ReturnItemData, ...]
    reason: str
    created_at: datetime
    returnless: bool
    estimated_refund: Decimal


@dataclass(frozen=True)
class ShippingLabel:
    carrier: str
    tracking_number: str
    label_url: str


@dataclass(frozen=True)
class ApprovalResult:
    return_id: int
    rma_number: str
    approved_at: datetime
    shipping_label: ShippingLabel | None
    instructions: str
    estimated_refund: Decimal
    store_credit_bonus: Decimal


@dataclass(frozen=True)
class ItemReceipt:
    line_item_id: str
    quantity_requested: int
    quantity_received: int
    actual_condition: str
    restockable: bool


@dataclass(frozen=True)
class ReceiptResult:
    status: str
    items_status: tuple[ItemReceipt, ...]
    condition_adjustments: Decimal
    adjusted_refund: Decimal
    fully_received: bool


@dataclass(frozen=True)
class InventoryUpdate:
    product_id: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class CompletionResult:
    refund_transaction_id: str
    refund_amount: Decimal
    refund_method: str
    inventory_updates: tuple[InventoryUpdate, ...]
    bonus_amount: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class EligibleItem:
    line_item_id: str
    product_id: str
    returnable_quantity: int
    window_expires_at: datetime | None


@dataclass(frozen=True)
class IneligibleItem:
    line_item_id: str
    product_id: str
    reason: str


@dataclass(frozen=True)
class EligibilityResult:
    order_id: str
    eligible_items: tuple[EligibleItem, ...]
    ineligible_items: tuple[IneligibleItem, ...]
    return_window_expires_at: datetime | None


@dataclass(frozen=True)
class PolicyResult:
    returnable: bool
    reason: str = ""
    returnable_quantity: int = 0
    window_expires_at: datetime | None = None
    restrictions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefundLine:
    line_item_id: str
    quantity: int
    item_amount: Decimal
    tax_amount: Decimal
    shipping_amount: Decimal
    restocking_fee_amount: Decimal
    condition_adjustment_amount: Decimal
    adjustment_amount: Decimal
    total_amount: Decimal


@dataclass(frozen=True)
class RefundBreakdown:
    currency: str
    item_total: Decimal
    tax_refund: Decimal
    shipping_refund: Decimal
    restocking_fee: Decimal
    condition_adjustments: Decimal
    adjustment: Decimal
    total_refund: Decimal
    lines: tuple[RefundLine, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "item_total": str(self.item_total),
            "tax_refund": str(self.tax_refund),
            "shipping_refund": str(self.shipping_refund),
            "restocking_fee": str(self.restocking_fee),
            "condition_adjustments": str(self.condition_adjustments),
            "adjustment": str(self.adjustment),
            "total_refund": str(self.total_refund),
            "lines": [
                {k: (str(v) if isinstance(v, Decimal) else v) for k, v in line.__dict__.items()}
                for line in self.lines
            ],
        }
