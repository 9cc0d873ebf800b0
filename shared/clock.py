"""Timestamps as fixed-width ISO-8601 UTC strings.

Stored times are strings such as ``2026-11-23T16:14:37.123456Z``: they sort and compare
correctly as strings, and they survive every store we run on unchanged (the embedded store turns
datetimes written by ``$set`` into naive strings, real MongoDB keeps BSON dates).
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# where the events take place: times without an offset are Seoul's, and pages show Seoul's
SEOUL = ZoneInfo("Asia/Seoul")


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_FORMAT)


def now_iso() -> str:
    return to_iso(datetime.now(UTC))


def iso_after(seconds: float) -> str:
    return to_iso(datetime.now(UTC) + timedelta(seconds=seconds))


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, _FORMAT).replace(tzinfo=UTC)


def in_seoul(value: str) -> datetime:
    """A stored time as Seoul's local date and time."""
    return parse_iso(value).astimezone(SEOUL)
