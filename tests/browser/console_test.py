#!/usr/bin/env python3
"""The usage console in a real browser: headless Chromium (Debian's package,
driven by Playwright) against the local service.

  scripts/run-local --then .venv/bin/python tests/browser/console_test.py

run-local sets QUERY_BASE_URL (the query function; the page is
{QUERY_BASE_URL}/console) and LAMBDA_INVOKE_URL (the Lambda emulator, whose
Invoke API takes the SQS batches).

1. It ingests its own usage through usage-ingest, as SQS batches: the app
   `app-busy` (billing time zone UTC, the default) with 31 days of classes
   ending today (interactive and playback sessions, class facts, recording
   segments with and without a class), three packages that run out part way,
   storage measurements; and two apps registered with a `timeZone`,
   `app-shanghai` (Asia/Shanghai, +08:00) and `app-kolkata` (Asia/Kolkata,
   +05:30), whose classes straddle their local midnights (a morning class at
   23:30Z the day before, a late class that ends after local midnight).
   Event ids carry today's (UTC) date: a second run the same day changes
   nothing.
2. For every view the page draws it computes the page's request itself (the
   period as the app's local days, their midnights computed with zoneinfo),
   asks /console/api directly and compares, field by field, the totals, the
   chart's data table, the details (every page, next and previous), the CSV
   download and the packages, every day and time as the app's local one; the
   zone is named beside the period, daily trends are bars (checked on the
   canvas), the axis and the hover name local days and hours. Names full of
   markup must show as text; no dialog, console error or page error may
   occur; an API error must show the API's message; the page must not scroll
   sideways at 375 and 1280 px.
   Checks of the API alone (named "the API ...") compare the zone apps'
   answers with what the events imply: TimeZone, instants written with the
   app's offset, buckets that are local days and hours, rows split at local
   midnight, package status on the app's today.
3. It prints the page's weight (gzip) and the time to chart and table for 31
   days, and writes screenshots to .local/console-1280.png and
   .local/console-375.png (UPDATE_SCREENSHOT=1: the 1280 one to
   docs/console.png too).

With --figures (scripts/bench) it ingests and prints the figures only.

The last line is `N passed, M failed`; the exit status is 1 on any failure.
"""
import datetime as dt
import gzip
import json
import os
import random
import shutil
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

sys.dont_write_bytecode = True  # no tests/__pycache__ in the work tree
sys.path.append(str(Path(__file__).resolve().parent.parent))
import pysupport  # noqa: E402  (tests/pysupport.py)

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = "/usr/bin/chromium"

APP = "app-busy"
APP_NAME = "忙碌 app <b>bold</b>"
OWNER = "111122223333"  # run-local's development caller
XSS_CLASS = "<img src=x onerror=alert(1)>"
XSS_PACKAGE = "<script>alert(2)</script> pack"
DAYS = 31  # today and the 30 days before it
# Apps with a billing time zone: (AppId, zone, name, short id prefix).
ZONE_APPS = (("app-kolkata", "Asia/Kolkata", "Kolkata academy", "kol"),
             ("app-shanghai", "Asia/Shanghai", "上海 school", "sh"))
ZONE_DAYS = 12  # local days of usage: from UTC today − 10 to tomorrow (in the past only)
UTC = dt.timezone.utc
CLASSES_PER_DAY = 12
BATCH = 100  # records per usage-ingest invocation
PAGE_SIZE = 20
SERVICES = ("AudioVideo", "Recording", "Storage")
DETAIL_KEYS = ("Date", "ClassName", "ClassId", "StartTime", "EndTime", "UsageType", "UserCount",
               "DurationSeconds", "BillableMinutes", "Packages", "PackageMinutes", "PayAsYouGoMinutes")
PACKAGE_KEYS = ("PackageName", "PackageId", "Minutes", "UsedMinutes", "RemainingMinutes",
                "ValidFrom", "ValidTo", "Status", "RunOutDate")
ALERT_KEYS = ("RaisedAt", "Kind", "PackageName", "PackageId", "RemainingMinutes", "AlertId")
ALERT_KINDS = {"PackageLow": "Running low (a fifth or less left)",
               "PackageExhausted": "Used up: pay-as-you-go from here",
               "PackageExpiring": "Expires within 7 days"}
DATA_SUMMARIES = {
    "AudioVideo": ("InteractiveSummaryDuration", "PlaybackSummaryDuration", "TotalSummaryDuration"),
    "Recording": ("TotalSummaryDuration", "AudioSummaryDuration", "V480SummaryDuration",
                  "V720SummaryDuration", "V1080SummaryDuration"),
    "Storage": ("PeakSummaryBytes",),
}
DETAIL_SUMMARIES = ("BillableMinutes", "PackageMinutes", "PayAsYouGoMinutes")
WAIT_MS = 30_000
# Drawn at least once and not loading. (Predicates are functions: the page's
# Content-Security-Policy forbids evaluating strings, as Playwright does with
# a bare expression.)
DRAWN = "() => Number(document.body.dataset.generation || 0) > 0 && document.body.dataset.state !== 'loading'"

QUERY_BASE_URL = pysupport.env("QUERY_BASE_URL", __file__)
LAMBDA_INVOKE_URL = pysupport.env("LAMBDA_INVOKE_URL", __file__)
CONSOLE_URL = f"{QUERY_BASE_URL}/console"
ORIGIN = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(QUERY_BASE_URL))


# ===================================================================== data ==
def stamp(moment: dt.datetime, offset_hours: int = 0) -> str:
    """RFC 3339 with milliseconds, in UTC or at a fixed offset (same instant)."""
    if offset_hours:
        local = moment + dt.timedelta(hours=offset_hours)
        return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}+{offset_hours:02d}:00"
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)  # naive UTC throughout


def event_adder(events: list, today: dt.date):
    """A function that appends one event to `events`, its id tagged with
    `today` (a second run the same day sends the same events)."""
    tag = today.isoformat()

    def add(source, event_id, kind, data, at):
        events.append({"source": source, "id": f"{event_id}-{tag}", "type": kind, "data": data,
                       "time": stamp(at), "at": at})

    return add


def usage_events(today: dt.date) -> list:
    """Every event of app-busy as (source, id, type, time, data, happened_at):
    the same list for the same day. Events whose times are not yet past are
    dropped by the caller."""
    rng = random.Random(f"console-test-{today}")
    events = []
    add = event_adder(events, today)

    first = today - dt.timedelta(days=DAYS - 1)
    add("/rtc/console", f"reg-{APP}", "rtc.app.registered",
        {"appId": APP, "ownerAccountId": OWNER, "appName": APP_NAME}, midnight(first))

    # Packages, in deduction order (validTo, validFrom, packageId); the first
    # two run out part way through the 31 days, the third starts tomorrow.
    packages = [
        ("pkg-markup", XSS_PACKAGE, 6000, first, today + dt.timedelta(days=60)),
        ("pkg-standard", "标准包 Standard 40000", 40000, first, today + dt.timedelta(days=334)),
        ("pkg-next-term", "Next term", 5000, today + dt.timedelta(days=1), today + dt.timedelta(days=200)),
    ]
    for package_id, name, minutes, valid_from, valid_to in packages:
        add("/rtc/billing", package_id, "rtc.package.purchased",
            {"appId": APP, "packageId": package_id, "packageName": name, "minutes": minutes,
             "validFrom": valid_from.isoformat(), "validTo": valid_to.isoformat()}, midnight(first))

    users = [f"student-{n:02d}" for n in range(1, 31)] + ["学生-李", "student-zoë", "<i>user</i>"]
    teachers = ["teacher-ana", "teacher-bo", "teacher-李老师", "teacher-dan"]
    subjects = ["Algebra", "Physics 物理", "History & Art", "Chemistry", "English \"B2\"", "Music",
                "Biology", "Geography", "Calculus", "Poetry 诗歌", "Robotics", "Drama"]
    resolutions = [None, (640, 480), (1280, 720), (1920, 1080), (320, 240)]

    for day_index in range(DAYS):
        day = first + dt.timedelta(days=day_index)
        base = midnight(day)
        for n in range(CLASSES_PER_DAY):
            class_id = f"c-{day:%m%d}-{n:02d}"
            # Classes spread over the day; the last one crosses midnight UTC
            # (rows on two days), except today's.
            if n == CLASSES_PER_DAY - 1 and day != today:
                start = base + dt.timedelta(hours=23, minutes=30)
            else:
                start = base + dt.timedelta(minutes=30 + n * 110 + rng.randrange(0, 20),
                                            seconds=rng.randrange(60), milliseconds=rng.randrange(1000))
            length = dt.timedelta(minutes=rng.randrange(25, 75), seconds=rng.randrange(60),
                                  milliseconds=rng.randrange(1000))
            end = start + length
            name = XSS_CLASS if (day_index == 1 and n == 0) else f"{subjects[n]} {day:%m-%d}"
            source = f"/rtc/classroom/room-{n % 4}"
            # Class facts: most classes have both; some never started (no
            # name), some never ended.
            if n != 5 or day_index % 3:
                add(source, f"{class_id}-start", "rtc.class.started",
                    {"appId": APP, "classId": class_id, "className": name, "startTime": stamp(start, 8 * (n % 2))},
                    start)
                if n != 7 or day_index % 4:
                    add(source, f"{class_id}-end", "rtc.class.ended",
                        {"appId": APP, "classId": class_id, "endTime": stamp(end)}, end)
            # Interactive: the teacher for the whole class, 2–4 students for parts of it.
            people = [(rng.choice(teachers), "teacher", start, end)]
            for student in rng.sample(users, rng.randrange(2, 5)):
                joined = start + dt.timedelta(seconds=rng.randrange(0, 300), milliseconds=rng.randrange(1000))
                left = end - dt.timedelta(seconds=rng.randrange(0, 600), milliseconds=rng.randrange(1000))
                people.append((student, rng.choice(["student", "student", "assistant"]), joined, left))
            for k, (user, role, joined, left) in enumerate(people):
                add(source, f"{class_id}-i{k}", "rtc.class.session",
                    {"appId": APP, "classId": class_id, "userId": user, "role": role, "usageType": "interactive",
                     "startTime": stamp(joined), "endTime": stamp(left)}, left)
            # Playback: 0–2 viewers, some hours later (perhaps the next day).
            for k in range(rng.randrange(0, 3)):
                watched = end + dt.timedelta(hours=rng.randrange(1, 20), minutes=rng.randrange(60))
                until = watched + dt.timedelta(minutes=rng.randrange(5, 40), seconds=rng.randrange(60))
                add(source, f"{class_id}-p{k}", "rtc.class.session",
                    {"appId": APP, "classId": class_id, "userId": rng.choice(users), "role": "spectator",
                     "usageType": "playback", "startTime": stamp(watched), "endTime": stamp(until)}, until)
            # Recording of about half the classes, at several resolutions.
            if n % 2 == 0:
                resolution = resolutions[(n // 2 + day_index) % len(resolutions)]
                data = {"appId": APP, "classId": class_id, "recordMode": str(n % 4 // 2),
                        "media": "audio" if resolution is None else "video",
                        "startTime": stamp(start), "endTime": stamp(end)}
                if resolution:
                    data["width"], data["height"] = resolution
                add(f"/rtc/recorder/task-{n}", f"{class_id}-rec", "rtc.recording.segment", data, end)
        # Recording without a class, twice a day: audio in the morning, 1080p at noon.
        for k, (hour, resolution) in enumerate(((6, None), (12, (1920, 1080)))):
            start = base + dt.timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
            end = start + dt.timedelta(minutes=rng.randrange(10, 50), milliseconds=rng.randrange(1000))
            data = {"appId": APP, "recordMode": "0", "media": "audio" if resolution is None else "video",
                    "startTime": stamp(start), "endTime": stamp(end)}
            if resolution:
                data["width"], data["height"] = resolution
            add("/rtc/recorder/standalone", f"seg-{day:%m%d}-{k}", "rtc.recording.segment", data, end)
        # Storage: a measurement every third day, growing, and one smaller reading.
        if day_index % 3 == 0:
            at = base + dt.timedelta(hours=1, minutes=rng.randrange(60))
            amount = 1_000_000_000 + day_index * 250_000_000 + rng.randrange(1_000_000)
            add("/rtc/storage", f"sto-{day:%m%d}", "rtc.storage.measured",
                {"appId": APP, "bytes": amount, "measuredAt": stamp(at)}, at)
            if day_index % 6 == 0:
                later = at + dt.timedelta(hours=12)
                add("/rtc/storage", f"sto-{day:%m%d}-b", "rtc.storage.measured",
                    {"appId": APP, "bytes": amount // 2, "measuredAt": stamp(later)}, later)
    return events


# ------------------------------------------------- apps with a time zone --
def offset_text(moment: dt.datetime) -> str:
    """+08:00, +05:30, -05:00, +00:00: an aware datetime's UTC offset."""
    raw = moment.strftime("%z")
    return f"{raw[:3]}:{raw[3:]}"


def at_local(day: dt.date, zone: str, hour: int, minute: int = 0) -> dt.datetime:
    """The instant (naive UTC) of a local wall time in zone."""
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC).replace(tzinfo=None)


def stamp_in(moment: dt.datetime, zone: str) -> str:
    """RFC 3339 with milliseconds at zone's offset (the instant moment, naive UTC)."""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{offset_text(local)}"


def early_start(day: dt.date) -> dt.datetime:
    """A zone app's morning class on local day `day`: 23:30Z the UTC day
    before (07:30 in Shanghai, 05:00 in Kolkata)."""
    return midnight(day) - dt.timedelta(minutes=30)


def zone_events(app: str, zone: str, name: str, prefix: str, today: dt.date) -> list:
    """Every event of a zone app, as usage_events: the same list for the same
    UTC day, each local day's events a function of that day alone. Times are
    whole seconds, so that every duration is a whole number of seconds."""
    events = []
    add = event_adder(events, today)

    first = today - dt.timedelta(days=ZONE_DAYS - 2)
    add("/rtc/console", f"reg-{app}", "rtc.app.registered",
        {"appId": app, "ownerAccountId": OWNER, "appName": name, "timeZone": zone}, midnight(first))
    # The second package starts on UTC tomorrow: the app's today already, in
    # the hours after its local midnight.
    for package_id, minutes, valid_from, valid_to in (
            (f"pkg-{prefix}-main", 150, first, today + dt.timedelta(days=60)),
            (f"pkg-{prefix}-tomorrow", 60, today + dt.timedelta(days=1), today + dt.timedelta(days=30))):
        add("/rtc/billing", package_id, "rtc.package.purchased",
            {"appId": app, "packageId": package_id, "packageName": f"{name} {package_id}", "minutes": minutes,
             "validFrom": valid_from.isoformat(), "validTo": valid_to.isoformat()}, midnight(first))

    def session(class_id, user, role, usage, start, end):
        add("/rtc/classroom", f"{class_id}-{usage[0]}-{user}", "rtc.class.session",
            {"appId": app, "classId": class_id, "userId": user, "role": role, "usageType": usage,
             "startTime": stamp(start), "endTime": stamp(end)}, end)

    for n in range(ZONE_DAYS):
        day = first + dt.timedelta(days=n)
        nxt = day + dt.timedelta(days=1)
        # The morning class: 45 minutes from 23:30Z the UTC day before.
        class_id = f"{prefix}-{day:%m%d}-early"
        start = early_start(day)
        end = start + dt.timedelta(minutes=45)
        add("/rtc/classroom", f"{class_id}-start", "rtc.class.started",
            {"appId": app, "classId": class_id, "className": f"Morning {day:%m-%d}",
             "startTime": stamp_in(start, zone)}, start)
        add("/rtc/classroom", f"{class_id}-end", "rtc.class.ended",
            {"appId": app, "classId": class_id, "endTime": stamp(end)}, end)
        session(class_id, "teacher-wu", "teacher", "interactive", start, end)
        session(class_id, "student-a", "student", "interactive", start + dt.timedelta(minutes=2),
                end - dt.timedelta(minutes=5))
        session(class_id, "student-b", "student", "interactive", start + dt.timedelta(minutes=10), end)
        add("/rtc/recorder/zone", f"{class_id}-rec", "rtc.recording.segment",
            {"appId": app, "classId": class_id, "recordMode": "0", "media": "audio",
             "startTime": stamp(start), "endTime": stamp(end)}, end)
        # The late class: 23:20 local to 00:30 the next local day.
        class_id = f"{prefix}-{day:%m%d}-late"
        start, end = at_local(day, zone, 23, 20), at_local(nxt, zone, 0, 30)
        add("/rtc/classroom", f"{class_id}-start", "rtc.class.started",
            {"appId": app, "classId": class_id, "className": f"Late {day:%m-%d}",
             "startTime": stamp(start)}, start)
        add("/rtc/classroom", f"{class_id}-end", "rtc.class.ended",
            {"appId": app, "classId": class_id, "endTime": stamp_in(end, zone)}, end)
        session(class_id, "teacher-wu", "teacher", "interactive", start, end)
        session(class_id, "student-c", "student", "interactive", at_local(day, zone, 23, 25),
                at_local(nxt, zone, 0, 20))
        session(class_id, "student-c", "spectator", "playback", at_local(nxt, zone, 8, 10),
                at_local(nxt, zone, 8, 30))
        add("/rtc/recorder/zone", f"{class_id}-rec", "rtc.recording.segment",
            {"appId": app, "classId": class_id, "recordMode": "1", "media": "video", "width": 1280,
             "height": 720, "startTime": stamp(start), "endTime": stamp(end)}, end)
        # A recording without a class at local noon, storage every other day.
        start = at_local(day, zone, 12, 0)
        add("/rtc/recorder/zone", f"seg-{prefix}-{day:%m%d}", "rtc.recording.segment",
            {"appId": app, "recordMode": "0", "media": "audio", "startTime": stamp(start),
             "endTime": stamp(start + dt.timedelta(minutes=15))}, start + dt.timedelta(minutes=15))
        if day.toordinal() % 2 == 0:
            add("/rtc/storage", f"sto-{prefix}-{day:%m%d}", "rtc.storage.measured",
                {"appId": app, "bytes": 2_000_000_000 + day.toordinal() % 50 * 10_000_000,
                 "measuredAt": stamp(start)}, start)
    return events


INGESTED = {}  # AppId -> the events of a zone app usage-ingest accepted


def ingest(today: dt.date) -> str:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    cutoff = now - dt.timedelta(seconds=30)  # strictly in the past
    events = [e for e in usage_events(today) if e["at"] <= cutoff]
    for app, zone, name, prefix in ZONE_APPS:
        INGESTED[app] = [e for e in zone_events(app, zone, name, prefix, today) if e["at"] <= cutoff]
        events += INGESTED[app]
    started = time.monotonic()
    for offset in range(0, len(events), BATCH):
        pysupport.ingest(LAMBDA_INVOKE_URL, events[offset:offset + BATCH], f"batch {offset // BATCH + 1}")
    seconds = time.monotonic() - started
    return f"{len(events)} events in {-(-len(events) // BATCH)} batches, {seconds:.1f} s"


# ====================================================================== API ==
# The local emulator's own HTTP 500s are asked again (pysupport says why).
def retry_emulator_500(route) -> None:
    """Playwright route handler: the request, asked again while the emulator fails it."""
    for attempt in range(pysupport.ATTEMPTS):
        response = route.fetch()
        if attempt == pysupport.ATTEMPTS - 1 or not pysupport.emulator_500(response.status, response.body()):
            break
        pysupport.emulator_retries += 1
    route.fulfill(response=response)


def api_raw(params: dict):
    """GET /console/api?params: (HTTP status, body bytes)."""
    url = f"{QUERY_BASE_URL}/console/api?{urllib.parse.urlencode(params)}"
    return pysupport.fetch_past_emulator_500("GET", url, timeout=300)


def api(params: dict, ok: bool = True) -> dict:
    status, body = api_raw(params)
    answer = json.loads(body)
    if ok:
        assert status == 200, f"{params['Action']} {params} answered HTTP {status}: {body[:500]!r}"
    return answer


def text(value) -> str:
    """What the page shows for a JSON value: null → —, numbers as JavaScript's String(n)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"no text form for {value!r}")


def packages_text(packages: list) -> str:
    return "; ".join(f"{p['PackageName']}: {text(p['Minutes'])} min" for p in packages) or "—"


def instant(value: str, zone: str) -> dt.datetime:
    """An answer's RFC 3339 instant, in zone."""
    return dt.datetime.fromisoformat(value).astimezone(ZoneInfo(zone))


def local_rfc3339(moment: dt.datetime, zone: str) -> str:
    """How the API writes an instant (§10): at the app's offset, to the second."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%dT%H:%M:%S}{offset_text(local)}"


def instant_text(value, zone: str) -> str:
    """What the page shows for an instant: the local date and time and the
    offset, `2026-12-02 07:30:00 +08:00`."""
    if value is None:
        return "—"
    local = instant(value, zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {offset_text(local)}"


def bucket_label(value: str, zone: str, interval: int) -> str:
    """A trend bucket on the page (chart data, axis, hover): its local day, or
    its local hour with the offset."""
    local = instant(value, zone)
    return local.date().isoformat() if interval == 86400 else f"{local:%Y-%m-%d %H:%M} {offset_text(local)}"


def detail_row(record: dict, zone: str) -> dict:
    return {key: packages_text(record[key]) if key == "Packages"
            else instant_text(record[key], zone) if key in ("StartTime", "EndTime")
            else text(record[key]) for key in DETAIL_KEYS}


def local_midnight(day: dt.date, zone: str) -> dt.datetime:
    """The instant (aware, UTC) local day `day` begins in zone."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def local_today(zone: str) -> dt.date:
    return dt.datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


class Window:
    """A view: an app, a service type and the app's local days [first, last]
    (inclusive) in its billing time zone."""

    def __init__(self, app: str, service: str, first: dt.date, last: dt.date, zone: str = "UTC"):
        self.app, self.service, self.first, self.last, self.zone = app, service, first, last, zone

    @property
    def end(self) -> dt.date:
        return self.last + dt.timedelta(days=1)

    @property
    def start_instant(self) -> dt.datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end_instant(self) -> dt.datetime:
        return local_midnight(self.end, self.zone)

    @property
    def interval(self) -> int:
        return 3600 if self.end - self.first == dt.timedelta(days=1) else 86400

    def params(self, action: str, **extra) -> dict:
        return {"Action": action, "StartTime": f"{self.start_instant:%Y-%m-%dT%H:%M:%S}Z",
                "EndTime": f"{self.end_instant:%Y-%m-%dT%H:%M:%S}Z",
                "AppId": self.app, "ServiceType": self.service, **{k: str(v) for k, v in extra.items()}}

    def zone_text(self) -> str:
        """#zone: the zone and every offset in effect over the window."""
        offsets, moment = [], self.start_instant
        while moment < self.end_instant or not offsets:
            offset = "UTC" + offset_text(moment.astimezone(ZoneInfo(self.zone)))
            if offset not in offsets:
                offsets.append(offset)
            moment += dt.timedelta(hours=1)
        return f"{self.zone} ({', '.join(offsets)})"

    def window_text(self) -> str:
        days = (self.last - self.first).days + 1
        return self.first.isoformat() if days == 1 else f"{self.first} – {self.last} ({days} days)"

    def data_params(self) -> dict:
        return self.params("DescribeUsageData", Interval=self.interval)

    def hash(self) -> str:
        return "#" + urllib.parse.urlencode({"AppId": self.app, "ServiceType": self.service,
                                             "From": self.first.isoformat(), "To": self.last.isoformat()})

    def csv_name(self) -> str:
        return f"usage-{self.app}-{self.service}-{self.first}-{self.last}.csv"

    def __str__(self) -> str:
        return f"{self.app} {self.service} {self.first}..{self.last} ({self.zone})"


# ================================================================== browser ==
class Trouble:
    """Dialogs, console errors and page errors of every page, for the final check."""

    def __init__(self):
        self.items = []
        self.allowed_statuses = set()  # HTTP statuses an error check expects the browser to log

    def watch(self, page):
        def on_dialog(dialog):
            self.items.append(f"a {dialog.type} dialog opened: {dialog.message!r} ({page.url})")
            dialog.dismiss()

        def on_console(message):
            if message.type != "error":
                return
            allowed = any(f"status of {status}" in message.text for status in self.allowed_statuses)
            if not (allowed and message.text.startswith("Failed to load resource")):
                self.items.append(f"console error: {message.text} ({message.location.get('url')})")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda error: self.items.append(f"page error: {error} ({page.url})"))


class Console:
    """One page of the console, its /console/api requests recorded."""

    def __init__(self, context, trouble: Trouble, fragment: str = ""):
        self.page = context.new_page()
        self.requests = []
        trouble.watch(self.page)
        self.page.on("request", self._record)
        self.page.goto(CONSOLE_URL + fragment)
        self.settled(0, "loading the page" + (f" at {fragment}" if fragment else ""))

    def _record(self, request):
        parts = urllib.parse.urlsplit(request.url)
        if parts.path.endswith("/console/api"):
            self.requests.append(dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))

    def generation(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.generation || 0)"))

    def state(self) -> str:
        return self.page.evaluate("document.body.dataset.state")

    def settled(self, before: int, what: str) -> None:
        try:
            self.page.wait_for_function(
                "g => Number(document.body.dataset.generation || 0) > g && document.body.dataset.state !== 'loading'",
                arg=before, timeout=WAIT_MS)
        except PlaywrightTimeout:
            raise AssertionError(
                f"{what}: the page did not finish drawing within {WAIT_MS // 1000} s "
                f"(body data-state={self.page.evaluate('document.body.dataset.state')!r}, "
                f"data-generation={self.page.evaluate('document.body.dataset.generation')!r})") from None

    def change(self, what: str, action) -> None:
        """Runs action (a control change) and waits until the view is drawn again."""
        before = self.generation()
        action()
        self.settled(before, what)

    def select(self, control: str, value: str) -> None:
        self.change(f"choosing {value!r} in {control}", lambda: self.page.select_option(control, value))

    def custom(self, first: dt.date, last: dt.date) -> None:
        self.page.select_option("#period", "custom")
        self.page.fill("#from", first.isoformat())
        self.page.fill("#to", last.isoformat())
        self.change(f"applying the custom range {first}..{last}", lambda: self.page.click("#apply"))

    # What the page shows.
    def rows(self, table: str) -> list:
        return self.page.evaluate("""sel => [...document.querySelectorAll(sel + ' tbody tr')].map(tr =>
            Object.fromEntries([...tr.querySelectorAll('td[data-key]')].map(td =>
                [td.dataset.key, td.textContent.trim()])))""", table)

    def totals(self) -> dict:
        return dict(self.page.evaluate("""() => [...document.querySelectorAll('#totals [data-key]')].map(d =>
            [d.dataset.key, (d.querySelector('dd') || d).textContent.trim()])"""))

    def chart_keys(self) -> list:
        return self.page.evaluate(
            "() => [...document.querySelectorAll('table#chart-data thead th[data-key]')].map(th => th.dataset.key)")

    def text_of(self, selector: str) -> str:
        return self.page.evaluate(
            "s => { const e = document.querySelector(s); return e ? e.textContent.trim() : null; }", selector)

    def value_of(self, selector: str):
        return self.page.evaluate("s => { const e = document.querySelector(s); return e ? e.value : null; }", selector)

    def disabled(self, selector: str) -> bool:
        return self.page.evaluate("s => document.querySelector(s).disabled", selector)

    def hidden(self, selector: str) -> bool:
        return self.page.evaluate("s => document.querySelector(s).hasAttribute('hidden')", selector)


def diff(what: str, shown, expected) -> str:
    """A short description of where two values differ."""
    if isinstance(shown, list) and isinstance(expected, list):
        if len(shown) != len(expected):
            return f"{what}: the page shows {len(shown)} rows, the API {len(expected)}"
        for i, (a, b) in enumerate(zip(shown, expected)):
            if a != b:
                return diff(f"{what}, row {i + 1}", a, b)
    if isinstance(shown, dict) and isinstance(expected, dict):
        keys = list(expected) + [k for k in shown if k not in expected]
        wrong = [f"{k}: page {shown.get(k, '(missing)')!r}, API {expected.get(k, '(not expected)')!r}"
                 for k in keys if shown.get(k, "(missing)") != expected.get(k, "(not expected)")]
        return f"{what}: " + "; ".join(wrong)
    return f"{what}: page {shown!r}, API {expected!r}"


def statement_lines(app: str) -> list:
    """This month's and last month's statements as the page must show them,
    read from the API: each statement's own month, then its adjustments."""
    months = [s["Month"] for s in api({"Action": "DescribeStatements", "AppId": app})["Statements"][:2]]
    lines = []
    for month in months:
        s = api({"Action": "DescribeStatement", "AppId": app, "Month": month})
        head = {"Statement": s["Month"], "Status": s["Status"], "ClosesAt": s["ClosesAt"]}

        def figures(av, rec):
            return {"AvSeconds": text(av["DurationSeconds"]), "AvBillable": text(av["BillableMinutes"]),
                    "AvPackage": text(av["PackageMinutes"]), "AvPayg": text(av["PayAsYouGoMinutes"]),
                    "RecSeconds": text(rec["DurationSeconds"]), "RecBillable": text(rec["BillableMinutes"]),
                    "Audio": text(rec["AudioSeconds"]), "V480": text(rec["V480Seconds"]),
                    "V720": text(rec["V720Seconds"]), "V1080": text(rec["V1080Seconds"])}
        lines.append({**head, "Line": "Own month", **figures(s["AudioVideo"], s["Recording"]),
                      "PeakBytes": text(s["Storage"]["PeakBytes"])})
        for a in s["Adjustments"]:
            lines.append({**head, "Line": f"Adjustment of {a['Month']}", **figures(a["AudioVideo"], a["Recording"]),
                          "PeakBytes": text(None)})
    assert len(months) == 2 and lines[0]["Statement"] == months[0]
    return lines


def alert_lines(app: str, zone: str) -> list:
    """The app's alerts as the page must show them, read from the API:
    newest first, each kind in words, its instant in the app's zone."""
    alerts = api({"Action": "DescribeAlerts", "AppId": app})["Alerts"]
    return [{k: ALERT_KINDS[a[k]] if k == "Kind" else instant_text(a[k], zone) if k == "RaisedAt"
             else text(a[k]) for k in ALERT_KEYS} for a in alerts]


def same(what: str, shown, expected) -> None:
    assert shown == expected, diff(what, shown, expected)


def made(console: Console, since: int, expected: dict) -> None:
    """The page asked /console/api exactly this (other parameters at their defaults)."""
    defaults = {"PageNumber": "1", "PageSize": str(PAGE_SIZE)}
    asked = [r for r in console.requests[since:] if r.get("Action") == expected["Action"]]
    ok = [r for r in asked if all(r.get(k) == v for k, v in expected.items())
          and all(r[k] == defaults.get(k, r[k]) for k in r if k not in expected)]
    assert ok, (f"the page did not ask {expected['Action']} with {expected}; "
                f"it asked: {asked or 'nothing'}")


def expect_view(console: Console, window: Window, since: int) -> dict:
    """The drawn view equals the API's answers for window; returns the
    details' first page (or None for Storage)."""
    data = api(window.data_params())
    details = api(window.params("DescribeUsageDetails")) if window.service != "Storage" else None
    packages = api({"Action": "DescribeUsagePackages", "AppId": window.app})

    made(console, since, window.data_params())
    if details is not None:
        made(console, since, window.params("DescribeUsageDetails"))
    made(console, since, {"Action": "DescribeUsagePackages", "AppId": window.app})

    # The controls show the window; the period is named in the app's zone.
    same(f"{window}: the controls", {k: console.value_of(k) for k in ("#app", "#service")},
         {"#app": window.app, "#service": window.service})
    same(f"{window}: the period and its time zone", {k: console.text_of(k) for k in ("#window", "#zone")},
         {"#window": window.window_text(), "#zone": window.zone_text()})

    totals = {key: data[key] for key in DATA_SUMMARIES[window.service]}
    if details is not None:
        totals.update({key: details["Summary"][key] for key in DETAIL_SUMMARIES})
    rows = details["Records"] if details else []
    expected_state = "empty" if not rows and not any(totals.values()) else "ready"
    assert console.state() == expected_state, \
        f"{window}: body data-state is {console.state()!r}, expected {expected_state!r}"

    shown_totals = console.totals()
    expected_totals = {key: text(value) for key, value in totals.items()}
    if details is not None and "DurationSeconds" in shown_totals:
        expected_totals["DurationSeconds"] = text(details["Summary"]["DurationSeconds"])
    same(f"{window}: #totals", shown_totals, expected_totals)

    point_keys = list(data["Data"][0])
    same(f"{window}: table#chart-data columns", console.chart_keys(),
         ["Timestamp"] + [k for k in point_keys if k != "Timestamp"])
    same(f"{window}: table#chart-data", console.rows("table#chart-data"),
         [{k: bucket_label(v, window.zone, window.interval) if k == "Timestamp" else text(v)
           for k, v in point.items()} for point in data["Data"]])
    if expected_state == "ready":
        assert console.page.query_selector("#chart .uplot canvas"), f"{window}: no canvas in #chart .uplot"
    expect_chart(console, window, data)

    if details is None:
        assert console.hidden("#details-section"), f"{window}: #details-section is not hidden for Storage"
    else:
        assert not console.hidden("#details-section"), f"{window}: #details-section is hidden"
        expect_details_page(console, window, details)

    same(f"{window}: table#packages", console.rows("table#packages"),
         [{k: text(p[k]) for k in PACKAGE_KEYS} for p in packages["Packages"]])
    made(console, since, {"Action": "DescribeStatements", "AppId": window.app})
    same(f"{window}: table#statements", console.rows("table#statements"), statement_lines(window.app))
    made(console, since, {"Action": "DescribeAlerts", "AppId": window.app})
    same(f"{window}: table#alerts", console.rows("table#alerts"), alert_lines(window.app, window.zone))
    note = console.text_of("#note")
    assert note and "minute" in note.lower(), \
        f"{window}: #note does not say durations are rounded up to minutes: {note!r}"
    return details


SERIES_COLORS = ("#1f6feb", "#e8710a", "#2da44e", "#8250df", "#cf222e")  # console.js's
# For each fraction of the plot's width, how many pixels of that column of the
# chart's canvas have a series' color.
COLOR_PROBE = """([fractions, colors]) => {
  const canvas = document.querySelector('#chart .uplot canvas');
  const over = document.querySelector('#chart .u-over').getBoundingClientRect();
  const box = canvas.getBoundingClientRect();
  const ratio = canvas.width / box.width;
  const context = canvas.getContext('2d');
  const rgb = colors.map(c => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));
  const top = Math.round((over.top - box.top) * ratio), height = Math.round(over.height * ratio);
  return fractions.map(f => {
    const x = Math.round((over.left - box.left + f * over.width) * ratio);
    const column = context.getImageData(x, top, 1, height).data;
    let hits = 0;
    for (let i = 0; i < column.length; i += 4) {
      if (column[i + 3] > 200 && rgb.some(([r, g, b]) =>
          Math.abs(column[i] - r) < 10 && Math.abs(column[i + 1] - g) < 10 && Math.abs(column[i + 2] - b) < 10)) hits++;
    }
    return hits;
  });
}"""
LEGEND_TIME = "(document.querySelector('#chart .u-legend .u-series .u-value') || {}).textContent"


def expect_chart(console: Console, window: Window, data: dict) -> None:
    """The trend as drawn: local days as bars (nothing drawn across a local
    midnight between two days with usage), local hours as a line; the axis
    labels local days or hours of the buckets; the hover names the bucket
    under the pointer in local time."""
    points = data["Data"]
    daily = window.interval == 86400
    labels = [bucket_label(p["Timestamp"], window.zone, window.interval) for p in points]
    kind = console.page.evaluate("() => document.querySelector('#chart').dataset.kind")
    same(f"{window}: #chart data-kind", kind, "bars" if daily else "line")
    if not points or not console.page.query_selector("#chart .u-over"):
        return
    ticks = (console.page.evaluate("() => document.querySelector('#chart').dataset.ticks") or "").split("|")
    at = [labels.index(t) if t in labels else -1 for t in ticks]
    assert ticks and -1 not in at and at == sorted(set(at)), \
        f"{window}: the time axis is labelled {ticks}, not with local {'days' if daily else 'hours'} of {labels}"

    starts = [instant(p["Timestamp"], "UTC").timestamp() for p in points]
    fields = [k for k in points[0] if k != "Timestamp"]
    if daily:
        ends = starts[1:] + [window.end_instant.timestamp()]
        low, high = starts[0], ends[-1]
        xs = [(a + b) / 2 for a, b in zip(starts, ends)]
        # Between two days with usage, at their local midnight: no bar, no line.
        busy = [any(p[k] for k in fields) for p in points]
        gaps = [(ends[i] - low) / (high - low) for i in range(len(points) - 1) if busy[i] and busy[i + 1]]
        # The first series' bar of its biggest day: colored.
        top = max(range(len(points)), key=lambda i: points[i][fields[0]])
        shortest = min(b - a for a, b in zip(starts, ends))
        bar = (xs[top] - 0.4 * shortest + 0.4 * shortest / len(fields) - low) / (high - low)
        hits = console.page.evaluate(COLOR_PROBE, [[bar] + gaps, list(SERIES_COLORS)])
        if points[top][fields[0]]:
            assert hits[0] > 0, f"{window}: no bar drawn for {labels[top]} (the day of most {fields[0]})"
        assert not any(hits[1:]), \
            f"{window}: the chart draws across local midnights between days (not bars): {hits[1:]}"
    else:
        low, high = starts[0], starts[-1]
        xs = starts
    middle = len(points) // 2
    over = console.page.locator("#chart .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    fraction = (xs[middle] - low) / (high - low) if high > low else 0.5
    over.hover(position={"x": fraction * box["width"], "y": box["height"] / 2})
    try:
        console.page.wait_for_function(f"e => {LEGEND_TIME} === e", arg=labels[middle], timeout=3000)
    except PlaywrightTimeout:
        raise AssertionError(f"{window}: hovering {labels[middle]} shows "
                             f"{console.page.evaluate(f'() => {LEGEND_TIME}')!r} in the legend") from None
    finally:
        console.page.mouse.move(0, 0)


def expect_details_page(console: Console, window: Window, details: dict) -> None:
    number, total = details["PageNumber"], details["TotalCount"]
    pages = -(-total // PAGE_SIZE)
    same(f"{window}: table#details page {number}", console.rows("table#details"),
         [detail_row(r, window.zone) for r in details["Records"]])
    if total:
        same(f"{window}: #page-info", console.text_of("#page-info"), f"Page {number} of {pages} · {total} rows")
    assert console.disabled("#page-prev") == (number <= 1), \
        f"{window}: #page-prev disabled={console.disabled('#page-prev')} on page {number} of {pages}"
    assert console.disabled("#page-next") == (number >= pages), \
        f"{window}: #page-next disabled={console.disabled('#page-next')} on page {number} of {pages}"


def turn(console: Console, window: Window, button: str, number: int) -> dict:
    """Clicks #page-next or #page-prev; the table must then show page `number`."""
    since = len(console.requests)
    console.change(f"{window}: clicking {button} to page {number}", lambda: console.page.click(button))
    details = api(window.params("DescribeUsageDetails", PageNumber=number))
    made(console, since, window.params("DescribeUsageDetails", PageNumber=number))
    expect_details_page(console, window, details)
    return details


def page_through(console: Console, window: Window, first_page: dict, everything: bool) -> list:
    """Next to the last page (everything) or two pages on, then back; returns
    every row seen."""
    pages = -(-first_page["TotalCount"] // PAGE_SIZE)
    assert pages > 5, f"{window}: only {first_page['TotalCount']} rows; the test wants more than 5 pages"
    seen = list(first_page["Records"])
    last = pages if everything else 3
    for number in range(2, last + 1):
        seen += turn(console, window, "#page-next", number)["Records"]
    for number in range(last - 1, max(last - 3, 0), -1):
        turn(console, window, "#page-prev", number)
    return seen


def expect_service_view(console: Console, window: Window, since: int) -> None:
    """expect_view, then (but for Storage, which has no details) a few
    pages on and back, and the download."""
    first_page = expect_view(console, window, since)
    if window.service != "Storage":
        page_through(console, window, first_page, everything=False)
        expect_download(console, window)


# =============================================== the API in the app's zone ==
def seconds(ms: int):
    """Seconds as the API writes them: whole where whole."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def event_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(UTC)


def local_days(start: dt.datetime, end: dt.datetime, zone: str) -> list:
    """[start, end) cut at the local midnights of zone: (local date, from, to)."""
    parts = []
    while start < end:
        day = start.astimezone(ZoneInfo(zone)).date()
        cut = min(end, local_midnight(day + dt.timedelta(days=1), zone))
        parts.append((day, start, cut))
        start = cut
    return parts


def zone_model(app: str, zone: str, window: Window):
    """What the events of a zone app imply for window (AudioVideo): its
    trend's Data and its rows by (Date, ClassId, UsageType)."""
    events = INGESTED[app]
    facts = {}
    for e in events:
        if e["type"] == "rtc.class.started":
            facts.setdefault(e["data"]["classId"], {})["StartTime"] = event_instant(e["data"]["startTime"])
        elif e["type"] == "rtc.class.ended":
            facts.setdefault(e["data"]["classId"], {})["EndTime"] = event_instant(e["data"]["endTime"])
    sessions = [(e["data"]["classId"], e["data"]["userId"], e["data"]["usageType"].capitalize(),
                 event_instant(e["data"]["startTime"]), event_instant(e["data"]["endTime"]))
                for e in events if e["type"] == "rtc.class.session"]
    # Buckets: the window's local days, or its local clock hours.
    if window.interval == 86400:
        buckets = [local_midnight(window.first + dt.timedelta(days=n), zone)
                   for n in range((window.last - window.first).days + 2)]
    else:
        buckets = [window.start_instant + dt.timedelta(hours=n) for n in range(25)]
        buckets = [b for b in buckets if b <= window.end_instant]
    data = []
    for start, end in zip(buckets, buckets[1:]):
        ms = {"Interactive": 0, "Playback": 0}
        for _, _, usage, a, b in sessions:
            ms[usage] += max(0, int((min(b, end) - max(a, start)).total_seconds() * 1000))
        data.append({"Timestamp": local_rfc3339(start, zone), "InteractiveDuration": seconds(ms["Interactive"]),
                     "PlaybackDuration": seconds(ms["Playback"]),
                     "TotalDuration": seconds(ms["Interactive"] + ms["Playback"])})
    rows = {}
    for class_id, user, usage, a, b in sessions:
        for day, start, end in local_days(a, b, zone):
            if window.first <= day <= window.last:
                row = rows.setdefault((day.isoformat(), class_id, usage), {"ms": 0, "users": set()})
                row["ms"] += int((end - start).total_seconds() * 1000)
                row["users"].add(user)
    expected = {}
    for key, row in rows.items():
        fact = facts.get(key[1], {})
        expected[key] = {"UserCount": len(row["users"]), "DurationSeconds": seconds(row["ms"]),
                         "BillableMinutes": -(-row["ms"] // 60000),
                         "StartTime": local_rfc3339(fact["StartTime"], zone) if "StartTime" in fact else None,
                         "EndTime": local_rfc3339(fact["EndTime"], zone) if "EndTime" in fact else None}
    return data, expected


def all_rows(window: Window) -> list:
    rows, number = [], 1
    while True:
        page = api(window.params("DescribeUsageDetails", PageNumber=number, PageSize=100))
        rows += page["Records"]
        if len(rows) >= page["TotalCount"] or not page["Records"]:
            return rows
        number += 1


def expect_api_in_zone(app: str, zone: str, name: str, prefix: str) -> str:
    """The API's answers for a zone app are what its events imply in its zone."""
    apps = {a["AppId"]: a for a in api({"Action": "DescribeApps"})["Apps"]}
    same(f"DescribeApps' {app}", {k: apps.get(app, {}).get(k) for k in ("AppName", "TimeZone")},
         {"AppName": name, "TimeZone": zone})
    today = local_today(zone)
    day = today - dt.timedelta(days=2)
    for window in (Window(app, "AudioVideo", today - dt.timedelta(days=6), today, zone),
                   Window(app, "AudioVideo", day, day, zone)):
        data = api(window.data_params())
        same(f"DescribeUsageData {window}: TimeZone", data.get("TimeZone"), zone)
        expected_data, expected_rows = zone_model(app, zone, window)
        same(f"DescribeUsageData {window}: Data (buckets of local {'days' if window.interval == 86400 else 'hours'})",
             data["Data"], expected_data)
        details = api(window.params("DescribeUsageDetails"))
        same(f"DescribeUsageDetails {window}: TimeZone", details.get("TimeZone"), zone)
        rows = {(r["Date"], r["ClassId"], r["UsageType"]): {k: r[k] for k in expected_rows.get(
            (r["Date"], r["ClassId"], r["UsageType"]), {"UserCount": 0})} for r in all_rows(window)}
        same(f"DescribeUsageDetails {window}: rows by (Date, ClassId, UsageType), split at local midnight",
             rows, expected_rows)
    # Status on the app's today: pkg-…-tomorrow starts on UTC tomorrow.
    packages = api({"Action": "DescribeUsagePackages", "AppId": app})
    same(f"DescribeUsagePackages {app}: TimeZone", packages.get("TimeZone"), zone)
    for package in packages["Packages"]:
        valid_from = dt.date.fromisoformat(package["ValidFrom"])
        valid_to = dt.date.fromisoformat(package["ValidTo"])
        status = ("NotStarted" if today < valid_from else "Expired" if today > valid_to
                  else "Exhausted" if package["RemainingMinutes"] == 0 else "Active")
        same(f"DescribeUsagePackages {app}: {package['PackageId']}'s Status on local {today}",
             package["Status"], status)
    return f"local today {today}"


def expect_download(console: Console, window: Window) -> None:
    status, expected = api_raw(window.params("ExportUsageDetails"))
    assert status == 200, f"{window}: ExportUsageDetails answered HTTP {status}: {expected[:300]!r}"
    with console.page.expect_download(timeout=WAIT_MS) as info:
        console.page.click("#download")
    download = info.value
    got = Path(download.path()).read_bytes()
    # The file a person saves opens with the UTF-8 byte order mark, so that a
    # spreadsheet program reads its names as UTF-8.
    assert got.startswith(b"\xef\xbb\xbf"), f"{window}: the download has no byte order mark: {got[:40]!r}"
    if got != expected:
        a, b = got.split(b"\r\n"), expected.split(b"\r\n")
        line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise AssertionError(f"{window}: the CSV download ({len(got)} bytes, {len(a)} lines) differs from "
                             f"ExportUsageDetails ({len(expected)} bytes, {len(b)} lines) at line {line + 1}: "
                             f"{a[line][:200] if line < len(a) else b'(end)'!r} vs "
                             f"{b[line][:200] if line < len(b) else b'(end)'!r}")
    same(f"{window}: the download's file name", download.suggested_filename, window.csv_name())


def no_markup(console: Console, where: str) -> None:
    found = console.page.evaluate("() => document.querySelectorAll('table img, table script, table b').length")
    assert found == 0, f"{where}: {found} img/script/b elements inside the tables (names were parsed as markup)"
    found = console.page.evaluate("() => document.querySelectorAll('img, script:not([src])').length")
    assert found == 0, f"{where}: {found} img or inline script elements in the page"


def no_sideways_scroll(console: Console, width: int) -> None:
    console.page.set_viewport_size({"width": width, "height": 800})
    console.page.wait_for_timeout(300)  # uPlot redraws on resize
    scroll = console.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"at {width}×800 the page scrolls sideways: scrollWidth {scroll} > {width}"


# ================================================================== figures ==
def cold_load(browser, url: str, trouble: Trouble):
    """Loads url in a fresh context (a cold cache), without request
    interception (which would disable the cache and add its own latency), until
    the view is drawn. A load the emulator failed (see pysupport's emulator_500)
    is done again. Returns (context, page, the document's response, every response)."""
    for attempt in range(pysupport.ATTEMPTS):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        seen = Trouble()
        seen.watch(page)
        responses = []
        page.on("response", lambda response: responses.append(response))
        document = page.goto(url)
        deadline = time.monotonic() + WAIT_MS / 1000
        drawn = False
        while time.monotonic() < deadline and not any(r.status == 500 for r in responses):
            if page.evaluate(DRAWN):
                drawn = True
                break
            page.wait_for_timeout(50)
        flaked = any(r.status == 500 and emulator_500_seen(r) for r in responses)
        if flaked and attempt < pysupport.ATTEMPTS - 1:
            pysupport.emulator_retries += 1
            context.close()
            continue
        trouble.items += seen.items
        assert drawn, f"{url}: the page did not finish drawing within {WAIT_MS // 1000} s"
        return context, page, document, responses


def emulator_500_seen(response) -> bool:
    try:
        body = response.body()
    except Exception:  # no body kept
        body = None
    return pysupport.emulator_500(response.status, body)


def page_weight(browser, trouble: Trouble) -> str:
    context, page, document, responses = cold_load(browser, CONSOLE_URL, trouble)
    others = [r.url for r in responses if not r.url.startswith((ORIGIN + "/", "data:", "blob:"))]
    assert not others, f"the page loads from another origin: {others}"
    csp = document.all_headers().get("content-security-policy")
    assert csp, "GET /console has no Content-Security-Policy header"
    sizes = {"document": 0, "script": 0, "stylesheet": 0}
    for response in responses:
        kind = response.request.resource_type
        if kind in sizes:
            sizes[kind] += len(gzip.compress(response.body(), compresslevel=9, mtime=0))
    context.close()
    total = sum(sizes.values())
    return (f"console page weight: {total} bytes gzip (html {sizes['document']}, "
            f"scripts {sizes['script']}, styles {sizes['stylesheet']})")


def time_to_draw(browser, trouble: Trouble, window: Window) -> str:
    times = []
    for _ in range(5):
        context, page, _, _ = cold_load(browser, CONSOLE_URL + window.hash(), trouble)
        state = page.evaluate("document.body.dataset.state")
        assert state == "ready", f"{window}: the deep link drew state {state!r}"
        marks = page.evaluate("performance.getEntriesByName('usage-drawn').map(e => e.startTime)")
        assert marks, "the page made no performance.mark('usage-drawn')"
        times.append(marks[-1])
        context.close()
    return (f"console time to chart and table (31 days, app-busy): median {round(statistics.median(times))} ms "
            f"over 5 loads")


# ==================================================================== tests ==
FIGURE_CHECKS = ("usage-ingest", "page weight", "time to chart", "no dialog")


def main() -> int:
    today = dt.datetime.now(dt.timezone.utc).date()
    day = dt.timedelta(days=1)
    last_30 = (today - 29 * day, today)
    custom_31 = (today - 30 * day, today)
    checks, figures = pysupport.Checks(), []

    # --figures (scripts/bench): the data, the two figures and the page's
    # trouble check only.
    figures_only = "--figures" in sys.argv[1:]

    def check(name: str, test) -> None:
        if not figures_only or name.startswith(FIGURE_CHECKS):
            checks.run(name, test)

    check("usage-ingest accepts app-busy's usage", lambda: ingest(today))

    def busy_alerts():
        # pkg-markup runs out part way: both its alerts, once each, its
        # name as text; the active packages have a run-out date or none.
        alerts = api({"Action": "DescribeAlerts", "AppId": APP})["Alerts"]
        raised = sorted((a["Kind"], a["PackageId"]) for a in alerts)
        for kind in ("PackageLow", "PackageExhausted"):
            assert (kind, "pkg-markup") in raised, f"DescribeAlerts: {raised}"
        assert len(raised) == len(set(raised)), f"an alert twice: {raised}"
        packages = api({"Action": "DescribeUsagePackages", "AppId": APP})["Packages"]
        for p in packages:
            assert p["RunOutDate"] is None or p["Status"] == "Active", p

    check("the API: app-busy's used-up package raised its alerts once each", busy_alerts)

    trouble = Trouble()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        context.route(f"{ORIGIN}/**", retry_emulator_500)

        def default_view():
            console = Console(context, trouble)
            apps = api({"Action": "DescribeApps"})["Apps"]
            assert apps and apps[0]["AppId"] == "app-1", f"DescribeApps: {apps}"
            made(console, 0, {"Action": "DescribeApps"})
            options = console.page.evaluate(
                "() => [...document.querySelectorAll('select#app option')].map(o => [o.value, o.textContent.trim()])")
            same("select#app options", options,
                 [[a["AppId"], f"{a['AppName']} ({a['AppId']})" if a["AppName"] is not None else a["AppId"]]
                  for a in apps])
            assert console.value_of("#period") == "7d", f"#period is {console.value_of('#period')!r}, not 7d"
            expect_view(console, Window(apps[0]["AppId"], "AudioVideo", today - 6 * day, today), 0)
            console.page.close()

        check("on load: the first app, AudioVideo, the last 7 days", default_view)

        busy = {}

        def busy_30_days():
            console = busy["console"] = Console(context, trouble)
            since = len(console.requests)
            console.select("#app", APP)
            expect_view(console, Window(APP, "AudioVideo", today - 6 * day, today), since)
            since = len(console.requests)
            console.select("#period", "30d")
            window = Window(APP, "AudioVideo", *last_30)
            first_page = expect_view(console, window, since)
            busy["rows"] = page_through(console, window, first_page, everything=True)
            expect_download(console, window)

        check(f"{APP} AudioVideo, last 30 days: totals, chart, every page, download, packages", busy_30_days)

        def markup_as_text():
            console = busy["console"]
            names = {r["ClassName"] for r in busy["rows"]}
            assert XSS_CLASS in names, f"the class {XSS_CLASS!r} is not among the rows' ClassName"
            # Back to the first page of the window, then on to the page that holds the class.
            console.select("#period", "7d")
            console.select("#period", "30d")
            window = Window(APP, "AudioVideo", *last_30)
            where = next(i for i, r in enumerate(busy["rows"]) if r["ClassName"] == XSS_CLASS) // PAGE_SIZE + 1
            for number in range(2, where + 1):
                turn(console, window, "#page-next", number)
            cells = console.page.evaluate("() => [...document.querySelectorAll("
                                          "'table#details td[data-key=ClassName]')].map(td => td.textContent)")
            assert XSS_CLASS in cells, f"no ClassName cell reads {XSS_CLASS!r} on page {where}: {cells}"
            packages = console.page.evaluate("() => [...document.querySelectorAll("
                                             "'table#packages td[data-key=PackageName]')].map(td => td.textContent)")
            assert XSS_PACKAGE in packages, f"no PackageName cell reads {XSS_PACKAGE!r}: {packages}"
            option = console.page.evaluate(
                f"() => document.querySelector('select#app option[value={APP}]').textContent")
            assert option == f"{APP_NAME} ({APP})", f"the app's option reads {option!r}"
            no_markup(console, f"{APP} AudioVideo")

        check("names with markup show as text (class, package, app)", markup_as_text)

        def busy_service(service: str):
            def test():
                console = busy["console"]
                since = len(console.requests)
                console.select("#service", service)
                expect_service_view(console, Window(APP, service, *last_30), since)
                no_markup(console, f"{APP} {service}")
            return test

        check(f"{APP} Recording, last 30 days: totals, chart, pages, download", busy_service("Recording"))
        check(f"{APP} Storage, last 30 days: totals, chart, no details", busy_service("Storage"))

        def busy_custom():
            console = busy["console"]
            console.select("#service", "AudioVideo")
            for service in SERVICES:
                since = len(console.requests)
                if service == "AudioVideo":
                    console.custom(*custom_31)
                else:  # the custom range stays when the service changes
                    console.select("#service", service)
                expect_service_view(console, Window(APP, service, *custom_31), since)

        check(f"{APP} custom range {custom_31[0]}..{custom_31[1]} (31 days), every service", busy_custom)

        def busy_today():
            console = busy["console"]
            console.select("#service", "AudioVideo")
            since = len(console.requests)
            console.select("#period", "today")
            expect_view(console, Window(APP, "AudioVideo", today, today), since)

        check(f"{APP} AudioVideo today (hourly)", busy_today)

        def layout():
            console = busy["console"]
            console.select("#period", "30d")
            (ROOT / ".local").mkdir(exist_ok=True)
            for width in (1280, 375):
                no_sideways_scroll(console, width)
                console.page.screenshot(path=str(ROOT / ".local" / f"console-{width}.png"), full_page=True)
            console.page.set_viewport_size({"width": 1280, "height": 800})
            if os.environ.get("UPDATE_SCREENSHOT") == "1":
                (ROOT / "docs").mkdir(exist_ok=True)
                shutil.copyfile(ROOT / ".local" / "console-1280.png", ROOT / "docs" / "console.png")
                return "docs/console.png updated"

        check("no sideways scrolling at 1280 and 375 px; screenshots in .local/", layout)

        def deep_link():
            window = Window(APP, "Recording", today - 20 * day, today - 5 * day)
            console = Console(context, trouble, window.hash())
            same("controls after a deep link",
                 {k: console.value_of(k) for k in ("#period", "#from", "#to")},
                 {"#period": "custom", "#from": window.first.isoformat(), "#to": window.last.isoformat()})
            expect_view(console, window, 0)
            console.page.close()

        check("a deep link loads its view directly", deep_link)

        def utc_offsets():
            window = Window(APP, "AudioVideo", today - 6 * day, today)
            data, details = api(window.data_params()), api(window.params("DescribeUsageDetails"))
            same(f"{window}: TimeZone of DescribeUsageData and DescribeUsageDetails",
                 [data.get("TimeZone"), details.get("TimeZone")], ["UTC", "UTC"])
            written = [p["Timestamp"] for p in data["Data"]] + [
                r[k] for r in details["Records"] for k in ("StartTime", "EndTime") if r[k] is not None]
            wrong = [w for w in written if w != local_rfc3339(instant(w, "UTC"), "UTC")]
            assert not wrong, f"{window}: instants not written as RFC 3339 at +00:00: {wrong[:5]}"

        check(f"the API writes {APP}'s instants (zone UTC) with +00:00", utc_offsets)

        zoned = {}
        for app, zone, name, prefix in ZONE_APPS:
            def api_in_zone(app=app, zone=zone, name=name, prefix=prefix):
                return expect_api_in_zone(app, zone, name, prefix)

            check(f"the API answers {app} in {zone}: TimeZone, local days and hours, rows split at local "
                  f"midnight, package status on the app's today", api_in_zone)

            def presets(app=app, zone=zone):
                console = zoned[app] = Console(context, trouble)
                now = local_today(zone)
                since = len(console.requests)
                console.select("#app", app)
                expect_view(console, Window(app, "AudioVideo", now - 6 * day, now, zone), since)
                since = len(console.requests)
                console.select("#period", "today")
                expect_view(console, Window(app, "AudioVideo", now, now, zone), since)
                since = len(console.requests)
                console.select("#period", "30d")
                window = Window(app, "AudioVideo", now - 29 * day, now, zone)
                expect_view(console, window, since)
                expect_download(console, window)
                for service in ("Recording", "Storage"):
                    since = len(console.requests)
                    console.select("#service", service)
                    expect_view(console, Window(app, service, now - 29 * day, now, zone), since)
                console.select("#service", "AudioVideo")
                return f"local today {now}"

            check(f"{app} ({zone}): today, the last 7 and 30 days are local days; zone named; times local; "
                  f"daily bars", presets)

            def own_day(app=app, zone=zone, prefix=prefix):
                console = zoned.get(app) or Console(context, trouble)
                if console.value_of("#app") != app:
                    console.select("#app", app)
                if console.value_of("#service") != "AudioVideo":
                    console.select("#service", "AudioVideo")
                when = local_today(zone) - 2 * day
                window = Window(app, "AudioVideo", when, when, zone)
                since = len(console.requests)
                console.custom(when, when)
                expect_view(console, window, since)
                rows = {r["ClassId"]: r for r in console.rows("table#details") if r.get("UsageType") == "Interactive"}
                early = early_start(when).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
                offset = offset_text(early)
                same(f"{window}: the morning class's row (23:30Z the day before)",
                     {k: rows.get(f"{prefix}-{when:%m%d}-early", {}).get(k) for k in ("Date", "StartTime")},
                     {"Date": when.isoformat(), "StartTime": f"{when} {early:%H:%M}:00 {offset}"})
                same(f"{window}: the late class's row (ends after local midnight)",
                     {k: rows.get(f"{prefix}-{when:%m%d}-late", {}).get(k) for k in ("Date", "StartTime", "EndTime")},
                     {"Date": when.isoformat(), "StartTime": f"{when} 23:20:00 {offset}",
                      "EndTime": f"{when + day} 00:30:00 {offset}"})
                return f"{when}: morning class at {early:%H:%M} {offset}"

            check(f"{app} ({zone}): a class at 23:30Z shows on its own local day, at its local time", own_day)

        def error_view(window: Window, code: str):
            def test():
                answer = api(window.data_params(), ok=False)
                assert answer.get("Code") == code, f"the API answered {answer} for {window}, expected {code}"
                trouble.allowed_statuses.add(400)
                try:
                    console = Console(context, trouble, window.hash())
                    assert console.state() == "error", f"{window}: data-state is {console.state()!r}, not 'error'"
                    status = console.text_of("#status") or ""
                    assert answer["Message"] in status and code in status, \
                        f"#status reads {status!r}; expected the API's Code {code!r} and Message {answer['Message']!r}"
                    console.page.close()
                finally:
                    trouble.allowed_statuses.discard(400)
            return test

        check("an unknown AppId shows the API's error",
              error_view(Window("no-such-app", "AudioVideo", today - 6 * day, today), "InvalidAppIdParameter"))
        check("a 32-day range shows the API's error",
              error_view(Window(APP, "AudioVideo", today - 31 * day, today), "InvalidTimeSpan"))

        check("page weight (same origin only, with a Content-Security-Policy)",
              lambda: figures.append(page_weight(browser, trouble)) or figures[-1])
        busy_31 = Window(APP, "AudioVideo", *custom_31)
        check("time to chart and table",
              lambda: figures.append(time_to_draw(browser, trouble, busy_31)) or figures[-1])

        def no_trouble():
            assert not trouble.items, "\n  ".join(["dialogs or errors in the page:"] + trouble.items)

        check("no dialog, no console error, no page error on any page", no_trouble)
        browser.close()

    for line in figures:
        print(line)
    if pysupport.emulator_retries:
        print(f"(asked again after the local emulator's own HTTP 500: {pysupport.emulator_retries})")
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
