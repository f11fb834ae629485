"""A time zone for tests: a fixed offset that is not a ``datetime.timezone``, as pydantic's."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


class FixedZone(tzinfo):
    """A fixed offset that is not a ``datetime.timezone``, one object per value, as pydantic's."""

    def __init__(self, hours: int) -> None:
        self.offset = timedelta(hours=hours)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return self.offset

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str | None:
        return None

    def __repr__(self) -> str:
        return f"FixedZone({self.offset})"
