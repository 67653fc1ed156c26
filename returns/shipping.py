"""
Return shipping labels behind a carrier interface. `LocalCarrierClient` needs no carrier
account: it draws the label as a PDF and issues a tracking number with a check digit, so the
embedded mode and tests produce real labels. A carrier integration implements `create_label`
and is named in `RETURNS_CARRIER_CLIENT`.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas


@dataclass(frozen=True)
class LabelRequest:
    rma_number: str
    order_id: str
    customer_id: str
    ship_to: str
    parcels: int = 1


@dataclass(frozen=True)
class CarrierLabel:
    carrier: str
    tracking_number: str
    pdf: bytes


class CarrierClient(Protocol):
    name: str

    def create_label(self, request: LabelRequest) -> CarrierLabel: ...


def _luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def tracking_number_is_valid(tracking_number: str) -> bool:
    digits = tracking_number.removeprefix("FLR")
    return digits.isdigit() and len(digits) == 12 and _luhn_digit(digits[:-1]) == digits[-1]


class LocalCarrierClient:
    name = "local"

    def create_label(self, request: LabelRequest) -> CarrierLabel:
        body = "".join(secrets.choice("0123456789") for _ in range(11))
        tracking_number = f"FLR{body}{_luhn_digit(body)}"
        return CarrierLabel(
            carrier=self.name,
            tracking_number=tracking_number,
            pdf=self._draw(request, tracking_number),
        )

    @staticmethod
    def _draw(request: LabelRequest, tracking_number: str) -> bytes:
        buffer = io.BytesIO()
        pdf = canvas.Canvas(buffer, pagesize=A6)
        pdf.setTitle(f"Return label {request.rma_number}")
        _width, height = A6
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(8 * mm, height - 14 * mm, "RETURN  " + request.rma_number)
        pdf.setFont("Helvetica", 9)
        y = height - 24 * mm
        for text in ["SHIP TO:", *request.ship_to.splitlines(), "", f"Order {request.order_id}"]:
            pdf.drawString(8 * mm, y, text)
            y -= 5 * mm
        barcode = code128.Code128(tracking_number, barHeight=16 * mm, barWidth=0.35 * mm)
        barcode.drawOn(pdf, 6 * mm, 22 * mm)
        pdf.setFont("Helvetica", 10)
        pdf.drawString(8 * mm, 15 * mm, f"Tracking: {tracking_number}")
        pdf.drawString(8 * mm, 9 * mm, "Write the RMA number on the parcel.")
        pdf.showPage()
        pdf.save()
        return buffer.getvalue()


def carrier_client() -> CarrierClient:
    return import_string(settings.RETURNS_CARRIER_CLIENT)()
