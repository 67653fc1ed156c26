from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rest_framework import serializers

from core.errors import DomainError


class UnknownReportError(DomainError):
    code = "unknown_report"
    status_code = 404


@dataclass(frozen=True)
class ReportTable:
    """What every report produces: column keys with labels, rows in column order."""

    title: str
    columns: Sequence[tuple[str, str]]  # (key, label)
    rows: Sequence[Sequence[Any]]
    parameters: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.columns]

    @property
    def labels(self) -> list[str]:
        return [label for _, label in self.columns]

    def as_dicts(self) -> list[dict[str, Any]]:
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


class Report:
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""

    class Parameters(serializers.Serializer):
        """No parameters unless a report declares its own."""

    def clean(self, data: Any) -> dict[str, Any]:
        """Validated parameters (serializers.ValidationError → 400 with field errors)."""
        serializer = self.Parameters(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def run(self, params: dict[str, Any]) -> ReportTable:
        raise NotImplementedError


_REGISTRY: dict[str, Report] = {}


def register(cls: type[Report]) -> type[Report]:
    if cls.name in _REGISTRY:
        raise ValueError(f"report {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def get_report(name: str) -> Report:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownReportError(f"There is no report called {name!r}.") from None


def all_reports() -> list[Report]:
    return sorted(_REGISTRY.values(), key=lambda report: report.title)


# Text opening with these is read as a formula by spreadsheet programs (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(table: ReportTable) -> bytes:
    """UTF-8 with a BOM so spreadsheet programs read accents right; header row of labels."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.labels)
    for row in table.rows:
        writer.writerow([_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
