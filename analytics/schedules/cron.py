"""
Cron slots of a report schedule, in the schedule's time zone (cronsim).

cronsim evaluates five-field expressions the way cronie (Debian/Red Hat cron) does across
daylight-saving changes, which is what people expect of "every Monday at 07:00":

- spring forward: a time inside the skipped hour runs at the moment the clock jumps
  (01:30 on a day 01:00 becomes 02:00 runs at 02:00 local);
- fall back: a fixed-time schedule runs once, at the first of the two 01:30s; a schedule
  with a wildcard hour (every 30 minutes) runs by elapsed time, so in both hours.
"""

from __future__ import annotations

import datetime
import zoneinfo

from cronsim import CronSim, CronSimError
from django.core.exceptions import ValidationError

UTC = datetime.UTC
# What evaluating a schedule stored with a bad expression or zone raises.
SCHEDULE_ERRORS = (CronSimError, zoneinfo.ZoneInfoNotFoundError, ValueError)


def validate_cron(expression: str) -> None:
    """Five fields (minute hour day-of-month month day-of-week), each within range."""
    fields = (expression or "").split()
    if len(fields) != 5:
        raise ValidationError(
            "Give five fields: minute hour day-of-month month day-of-week "
            "(e.g. '0 7 * * 1' for Mondays at 07:00); found %(count)s.",
            code="cron_fields",
            params={"count": len(fields)},
        )
    try:
        CronSim(" ".join(fields), datetime.datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValidationError(
            "Not a valid cron expression: %(reason)s.", code="cron_invalid", params={"reason": exc}
        ) from exc


def validate_time_zone(name: str) -> None:
    """An IANA time zone name, e.g. 'Europe/London' or 'America/New_York'."""
    try:
        if not name or name != name.strip():
            raise zoneinfo.ZoneInfoNotFoundError(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            "Unknown time zone %(name)r: give an IANA name such as 'Europe/London'.",
            code="time_zone_invalid",
            params={"name": name},
        ) from exc


def describe(expression: str) -> str:
    """'At 07:00 on Monday' for '0 7 * * 1'; the expression itself if it does not parse."""
    try:
        return CronSim(expression, datetime.datetime(2000, 1, 1, tzinfo=UTC)).explain()
    except (CronSimError, ValueError):
        return expression


def next_slot(expression: str, time_zone: str, *, after: datetime.datetime) -> datetime.datetime:
    """The first slot strictly after `after`, in UTC (slots are computed in `time_zone`)."""
    tz = zoneinfo.ZoneInfo(time_zone)
    slot = next(CronSim(expression, after.astimezone(tz)))
    return slot.astimezone(UTC)


def slots_between(
    expression: str, time_zone: str, *, after: datetime.datetime, until: datetime.datetime
):
    """The slots strictly after `after` and at or before `until`, oldest first, in UTC."""
    tz = zoneinfo.ZoneInfo(time_zone)
    for slot in CronSim(expression, after.astimezone(tz)):
        slot = slot.astimezone(UTC)
        if slot > until:
            return
        yield slot


def upcoming(
    expression: str, time_zone: str, *, after: datetime.datetime, count: int = 5
) -> list[datetime.datetime]:
    """The next `count` slots after `after`, in the schedule's time zone (for the admin)."""
    tz = zoneinfo.ZoneInfo(time_zone)
    slots, iterator = [], CronSim(expression, after.astimezone(tz))
    for _ in range(count):
        slots.append(next(iterator).astimezone(tz))
    return slots


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)
