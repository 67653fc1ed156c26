from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
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


class QueryRows(Sequence):
    """Rows read from a queryset on demand, so a report of 100,000 learners costs what is used.

    `len()`/`count()` is one COUNT (cached), a slice one LIMIT/OFFSET query (what a JSON
    page reads), and iteration a server-side cursor in chunks (what the CSV streams). `row`
    turns each record of the queryset into a row in the table's column order.

    With `keys` (the same rows' primary keys, filtered and ordered alike, without the costly
    columns) a slice reads the page's keys first and then the full records of only those:
    PostgreSQL would otherwise compute the correlated subqueries of every row an OFFSET
    skips. The queryset's records must then start with the primary key. `lookup`, when
    given, is the queryset those records are read from (the same columns, without filters
    the keys already passed).
    """

    def __init__(
        self,
        queryset: Any,
        row: Callable[[Any], Sequence[Any]] = tuple,
        *,
        keys: Any = None,
        lookup: Any = None,
        chunk_size: int = 2000,
    ):
        self.queryset = queryset
        self.row = row
        self.keys = keys
        self.lookup = lookup if lookup is not None else queryset
        self.chunk_size = chunk_size
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = (self.keys if self.keys is not None else self.queryset).count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        if self.keys is None:
            return [self.row(record) for record in self.queryset[index]]
        keys = list(self.keys[index])
        records = {record[0]: record for record in self.lookup.filter(pk__in=keys)}
        return [self.row(records[key]) for key in keys if key in records]

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for record in self.queryset.iterator(chunk_size=self.chunk_size):
            yield self.row(record)


class Report:
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    # Row-heavy reports (a row per learner) are paged in JSON; CSV always has every row.
    paginated: ClassVar[bool] = False

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


def iter_csv(table: ReportTable, *, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The CSV of `render_csv` in chunks, for a streaming response over lazy rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(table.labels)
    pending = 0
    for row in table.rows:
        writer.writerow([_cell(value) for value in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def render_csv(table: ReportTable) -> bytes:
    """UTF-8 with a BOM so spreadsheet programs read accents right; header row of labels."""
    return b"".join(iter_csv(table))
