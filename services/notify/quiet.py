"""Quiet hours (防打扰时间) for text messages: no SMS at night (pure domain logic, issue #17).

``NOTIFY_SMS_QUIET_HOURS`` is a window of the day in China time (Asia/Shanghai, no daylight
saving), "HH:MM-HH:MM", start included and end excluded; a start after the end runs over midnight
("21:00-08:00": from 21:00 until 08:00 the next morning). Empty: no quiet hours. A text due inside
the window is held until its end (``quiet_until``) and sent then; e-mail and webhooks are not held
(nobody is woken by them).

The OGI office sets the window without a redeployment (``PUT /settings/sms-quiet-hours``, stored
by ``quiet_setting``); ``NOTIFY_SMS_QUIET_HOURS`` is the default until it does. A changed window
re-examines the texts held by the old one (``Dispatcher.reexamine_quiet``): one the new window no
longer covers goes at once, one it still covers waits for the new window's end (earlier or later
than the old one's: the office's current setting is what counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


class InvalidWindow(ValueError):
    """A setting that is not a window of the day; ``zh`` says why to the officer who typed it."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, setting: str | None) -> QuietHours | None:
        """"21:00-08:00" → the window; "" → None. Raises ``InvalidWindow`` (a ValueError) for
        anything else (the service refuses to start rather than text people at night; the settings
        route answers 422)."""
        if not setting or not setting.strip():
            return None
        m = WINDOW.fullmatch(setting)
        if m is None:
            raise InvalidWindow(f"quiet hours {setting!r}: expected HH:MM-HH:MM",
                                "格式不正确，应为“开始-结束”，如 21:00-08:00；留空表示不设防打扰时间")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if not (0 <= h1 <= 23 and 0 <= h2 <= 23 and 0 <= m1 <= 59 and 0 <= m2 <= 59):
            raise InvalidWindow(f"quiet hours {setting!r}: not a time of day",
                                "不是有效的时刻：小时应为 00–23，分钟应为 00–59")
        window = cls(time(h1, m1), time(h2, m2))
        if window.start == window.end:
            raise InvalidWindow(f"quiet hours {setting!r}: start and end are the same",
                                "开始时刻与结束时刻不能相同")
        return window

    def __str__(self) -> str:
        """The canonical form, as stored and shown: "21:00-08:00"."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def canonical(setting: str | None) -> str:
    """The setting as stored: "9:00 - 8:00" → "09:00-08:00", none → "" (``InvalidWindow`` else)."""
    window = QuietHours.parse(setting)
    return "" if window is None else str(window)


def quiet_until(at: datetime, window: QuietHours | None, tz: ZoneInfo = CHINA) -> datetime | None:
    """When the quiet window that ``at`` falls in ends (UTC), or None when ``at`` is outside it
    (or there is none). ``at`` must be aware."""
    if window is None:
        return None
    local = at.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    today = local.date()
    if window.start < window.end:  # within one day, e.g. 12:00-14:00
        if window.start <= now < window.end:
            return datetime.combine(today, window.end, tz).astimezone(UTC)
        return None
    # over midnight, e.g. 21:00-08:00
    if now >= window.start:
        return datetime.combine(today + timedelta(days=1), window.end, tz).astimezone(UTC)
    if now < window.end:
        return datetime.combine(today, window.end, tz).astimezone(UTC)
    return None

