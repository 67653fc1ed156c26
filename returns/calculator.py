"""
Refund arithmetic, in Decimal only.

Each component (items, tax, shipping, restocking fee, condition deductions, staff
adjustment) is computed exactly, rounded once to the currency's minor unit, then spread
over the returned lines: every line but the last is rounded down and the last line takes
the remainder, so each component's lines and the lines' totals always sum to the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from core.money import quantize
from returns.models import RETAILER_FAULT_REASONS, ReturnItem, ReturnRequest
from returns.results import RefundBreakdown, RefundLine

ZERO = Decimal("0")
HUNDRED = Decimal("100")
_RELEASED_STATES = (ReturnRequest.Status.REJECTED, ReturnRequest.Status.CANCELLED)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `total` over `weights`; all but the last share round down, the last takes the rest."""
    if not weights:
        return []
    weight_sum = sum(weights, ZERO)
    shares: list[Decimal] = []
    for weight in weights[:-1]:
        exact = total * weight / weight_sum if weight_sum else ZERO
        shares.append(quantize(exact, currency, rounding=ROUND_DOWN))
    shares.append(total - sum(shares, ZERO))
    return shares


def _returned_quantity(item: ReturnItem, *, received_phase: bool) -> int:
    if received_phase:
        return item.quantity_received or 0
    return item.quantity_requested


class RefundCalculator:
    """Works out what a return refunds, line by line (seed 003 `RefundCalculator`)."""

    def calculate(
        self,
        *,
        return_request: ReturnRequest,
        restocking_fee_percent: Decimal = ZERO,
        restocking_fee_amount: Decimal | None = None,
        condition_adjustments: Mapping[str, Decimal] | None = None,
        items: Sequence[ReturnItem] | None = None,
    ) -> RefundBreakdown:
        """
        Refund for the return's items: requested quantities until anything is received,
        received quantities (and their conditions) after. `condition_adjustments` maps an
        actual condition to the percent deducted; the retailer's fault waives restocking
        fees and condition deductions and refunds shipping.
        """
        order = return_request.order
        currency = return_request.currency or order.currency
        items = list(items if items is not None else return_request.items.select_related("line"))
        received_phase = not return_request.returnless and any(
            i.quantity_received is not None for i in items
        )
        retailer_fault = return_request.reason in RETAILER_FAULT_REASONS
        waive_deductions = retailer_fault or return_request.returnless

        quantities = [_returned_quantity(i, received_phase=received_phase) for i in items]
        exact_items = [i.line.unit_price_amount * q for i, q in zip(items, quantities, strict=True)]
        exact_tax = [
            i.line.tax_amount * q / i.line.quantity for i, q in zip(items, quantities, strict=True)
        ]
        item_total = quantize(sum(exact_items, ZERO), currency)
        tax_refund = quantize(sum(exact_tax, ZERO), currency)

        shipping_refund = ZERO
        if any(quantities) and (
            retailer_fault or self._whole_order_returned(return_request, items, quantities)
        ):
            shipping_refund = self._unclaimed_shipping(return_request)

        restocking_fee = ZERO
        if not waive_deductions and item_total > 0:
            if restocking_fee_amount is not None:
                restocking_fee = quantize(Decimal(restocking_fee_amount), currency)
            else:
                restocking_fee = quantize(
                    item_total * Decimal(restocking_fee_percent) / HUNDRED,
                    currency,
                    ROUND_HALF_EVEN,
                )
            restocking_fee = min(max(restocking_fee, ZERO), item_total)

        exact_condition = [ZERO] * len(items)
        if received_phase and not waive_deductions and condition_adjustments:
            exact_condition = [
                value * Decimal(condition_adjustments.get(i.actual_condition, ZERO)) / HUNDRED
                for i, value in zip(items, exact_items, strict=True)
            ]
        condition_total = min(
            quantize(sum(exact_condition, ZERO), currency), item_total - restocking_fee
        )

        total = item_total + tax_refund + shipping_refund - restocking_fee - condition_total
        lines = self._lines(
            items=items,
            quantities=quantities,
            currency=currency,
            components={
                "item_amount": (item_total, exact_items),
                "tax_amount": (tax_refund, exact_tax),
                "shipping_amount": (shipping_refund, exact_items),
                "restocking_fee_amount": (restocking_fee, exact_items),
                "condition_adjustment_amount": (condition_total, exact_condition),
                "adjustment_amount": (ZERO, exact_items),
            },
        )
        return RefundBreakdown(
            currency=currency,
            item_total=item_total,
            tax_refund=tax_refund,
            shipping_refund=shipping_refund,
            restocking_fee=restocking_fee,
            condition_adjustments=condition_total,
            adjustment=ZERO,
            total_refund=total,
            lines=tuple(lines),
        )

    def with_total(self, breakdown: RefundBreakdown, *, total: Decimal) -> RefundBreakdown:
        """The breakdown with staff's overriding `total`; the difference is an adjustment."""
        total = quantize(Decimal(total), breakdown.currency)
        adjustment = total - breakdown.total_refund
        weights = [line.total_amount for line in breakdown.lines]
        if not any(weights):
            weights = [line.item_amount + line.tax_amount for line in breakdown.lines]
        shares = allocate(adjustment, weights, breakdown.currency)
        lines = tuple(
            RefundLine(
                **{
                    **line.__dict__,
                    "adjustment_amount": share,
                    "total_amount": line.total_amount + share,
                }
            )
            for line, share in zip(breakdown.lines, shares, strict=True)
        )
        return RefundBreakdown(
            **{
                **breakdown.__dict__,
                "adjustment": adjustment,
                "total_refund": total,
                "lines": lines,
            }
        )

    @staticmethod
    def _lines(*, items, quantities, currency, components) -> list[RefundLine]:
        spread = {
            name: allocate(total, weights, currency)
            for name, (total, weights) in components.items()
        }
        lines = []
        for index, (item, quantity) in enumerate(zip(items, quantities, strict=True)):
            parts = {name: shares[index] for name, shares in spread.items()}
            lines.append(
                RefundLine(
                    line_item_id=item.line.external_id,
                    quantity=quantity,
                    total_amount=parts["item_amount"]
                    + parts["tax_amount"]
                    + parts["shipping_amount"]
                    - parts["restocking_fee_amount"]
                    - parts["condition_adjustment_amount"]
                    + parts["adjustment_amount"],
                    **parts,
                )
            )
        return lines

    @staticmethod
    def _whole_order_returned(return_request, items, quantities) -> bool:
        """True when this return plus the order's other live returns take back every unit."""
        ours = {i.line_id: q for i, q in zip(items, quantities, strict=True)}
        others: dict[int, int] = {}
        for other in (
            ReturnItem.objects.filter(line__order_id=return_request.order_id)
            .exclude(return_request__status__in=_RELEASED_STATES)
            .exclude(return_request_id=return_request.pk)
        ):
            others[other.line_id] = others.get(other.line_id, 0) + other.quantity_requested
        return all(
            ours.get(line.pk, 0) + others.get(line.pk, 0) >= line.quantity
            for line in return_request.order.lines.all()
        )

    @staticmethod
    def _unclaimed_shipping(return_request) -> Decimal:
        """Shipping is refunded once per order: not if another live return already claims it."""
        others = (
            ReturnRequest.objects.filter(order_id=return_request.order_id)
            .exclude(status__in=_RELEASED_STATES)
            .exclude(pk=return_request.pk)
            .values_list("refund_breakdown", flat=True)
        )
        for breakdown in others:
            if Decimal(str((breakdown or {}).get("shipping_refund", "0"))) > 0:
                return ZERO
        return return_request.order.shipping_amount
