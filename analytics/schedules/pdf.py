"""
The PDF of a report run (reportlab): title, when it was generated, the parameters and the
summary, then the rows in a table whose header row repeats on every page, and a footer
with the page number.

The text is set in DejaVu Sans when the system has it (every accent and most scripts),
otherwise in Bitstream Vera, which ships with reportlab; both are embedded as TrueType, so
any text encodes and only a glyph the font lacks shows blank.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

_FONT_CANDIDATES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),  # fonts-dejavu-core (Debian, most images)
    ("Vera.ttf", "VeraBd.ttf"),  # bundled with reportlab: always there
)
HEADER_BACKGROUND = colors.HexColor("#1f3a5f")
ZEBRA = colors.HexColor("#f2f5f9")
GRID = colors.HexColor("#c8d1dc")


@cache
def _fonts() -> tuple[str, str]:
    """(regular, bold) font names registered with reportlab."""
    configured = getattr(settings, "REPORTS_PDF_FONT", "")
    candidates = list(_FONT_CANDIDATES)
    if configured:
        bold = getattr(settings, "REPORTS_PDF_FONT_BOLD", "") or configured
        candidates.insert(0, (configured, bold))
    for regular, bold in candidates:
        try:
            pdfmetrics.registerFont(TTFont(f"Report-{Path(regular).stem}", regular))
            pdfmetrics.registerFont(TTFont(f"Report-{Path(bold).stem}", bold))
        except Exception:  # noqa: S112 - not installed here: try the next one
            continue
        return f"Report-{Path(regular).stem}", f"Report-{Path(bold).stem}"
    return "Helvetica", "Helvetica-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=4),
        "meta": ParagraphStyle(
            "meta", fontName=regular, fontSize=9, leading=12, textColor=colors.HexColor("#555")
        ),
        "heading": ParagraphStyle(
            "heading", fontName=bold, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4
        ),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=7.5, leading=9.5),
        "head": ParagraphStyle(
            "head", fontName=bold, fontSize=7.5, leading=9.5, textColor=colors.white
        ),
        "key": ParagraphStyle("key", fontName=bold, fontSize=8.5, leading=11),
        "value": ParagraphStyle("value", fontName=regular, fontSize=8.5, leading=11),
        "note": ParagraphStyle(
            "note", fontName=regular, fontSize=8, leading=10, textColor=colors.HexColor("#8a4b00")
        ),
    }


def format_value(value: Any, tz: datetime.tzinfo | None = None) -> str:
    """How a cell reads: dates in the report's time zone, shares and floats rounded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None and tz is not None:
            value = value.astimezone(tz)
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value == value else ""
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, dict):
        if "name" in value:  # a parameter object as reports echo it: {"id", "name"}
            return str(value["name"])
        return ", ".join(f"{k}: {format_value(v, tz)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item, tz) for item in value)
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _key_values(
    items: dict[str, Any], styles: dict[str, ParagraphStyle], tz, width: float
) -> Table:
    data = [
        [
            Paragraph(escape(_label(key)), styles["key"]),
            Paragraph(escape(format_value(value, tz)) or "—", styles["value"]),
        ]
        for key, value in items.items()
    ]
    table = Table(data, colWidths=[width * 0.3, width * 0.7], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, GRID),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _column_widths(labels: Sequence[str], rows: Sequence[Sequence[str]], width: float) -> list:
    """Shares of the page by the columns' typical text length (sampled), within bounds."""
    sample = rows[:200]
    weights = []
    for index, label in enumerate(labels):
        lengths = sorted(len(row[index]) for row in sample) or [0]
        typical = lengths[int(len(lengths) * 0.9)] if lengths else 0
        weights.append(min(max(typical, len(label) * 0.7, 4), 40))
    total = sum(weights)
    return [width * weight / total for weight in weights]


def render_pdf(
    *,
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[Any]],
    parameters: dict[str, Any],
    summary: dict[str, Any],
    generated_at: datetime.datetime,
    row_count: int,
    tz: datetime.tzinfo | None = None,
) -> bytes:
    """The report as PDF bytes. `rows` may be fewer than `row_count` (the PDF's row cap);
    a note then says the CSV has them all."""
    styles = _styles()
    labels = [label for _, label in columns]
    pagesize = landscape(A4) if len(columns) > 5 else A4
    margin = 14 * mm
    width = pagesize[0] - 2 * margin
    generated = format_value(generated_at, tz)

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(_fonts()[0], 7.5)
        canvas.setFillColor(colors.HexColor("#777"))
        canvas.drawString(margin, 8 * mm, f"{title} · generated {generated}")
        canvas.drawRightString(pagesize[0] - margin, 8 * mm, f"Page {doc.page}")
        canvas.restoreState()

    text_rows = [[format_value(value, tz) for value in row] for row in rows]
    story: list = [
        Paragraph(escape(title), styles["title"]),
        Paragraph(escape(f"Generated {generated} · {row_count:,} rows"), styles["meta"]),
    ]
    if parameters:
        story += [Paragraph("Parameters", styles["heading"])]
        story += [_key_values(parameters, styles, tz, width * 0.6)]
    if summary:
        story += [Paragraph("Summary", styles["heading"])]
        story += [_key_values(summary, styles, tz, width * 0.6)]
    story += [Spacer(1, 4 * mm)]
    if text_rows:
        widths = _column_widths(labels, text_rows, width)
        # A Paragraph (which wraps) only where the text may not fit its column: laying out
        # a Paragraph per cell costs several times a plain string.
        fits = [int(w / (styles["cell"].fontSize * 0.62)) for w in widths]
        data = [[Paragraph(escape(label), styles["head"]) for label in labels]]
        data += [
            [
                text if len(text) <= fits[index] else Paragraph(escape(text), styles["cell"])
                for index, text in enumerate(row)
            ]
            for row in text_rows
        ]
        table = LongTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 1), (-1, -1), styles["cell"].fontName, styles["cell"].fontSize),
                    ("LEADING", (0, 1), (-1, -1), styles["cell"].leading),
                    ("BACKGROUND", (0, 0), (-1, 0), HEADER_BACKGROUND),
                    ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
                    ("GRID", (0, 0), (-1, -1), 0.25, GRID),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ]
            )
        )
        story.append(table)
    else:
        story.append(Paragraph("No rows.", styles["meta"]))
    if len(text_rows) < row_count:
        story += [
            Spacer(1, 3 * mm),
            Paragraph(
                escape(
                    f"The PDF shows the first {len(text_rows):,} of {row_count:,} rows; "
                    "the CSV has every row."
                ),
                styles["note"],
            ),
        ]

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=16 * mm,
        title=title,
        author="Frontline",
        subject="Scheduled report",
        creator="Frontline",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
