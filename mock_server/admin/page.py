"""The admin page for people (`GET /__admin`) and its sign-in form (`GET /__admin/login`).

Journal entries are hostile input: their paths, headers and bodies are whatever anyone sent. So the
templates are rendered with autoescaping on, every value the page shows goes through it, and the few
values that end up in class names are first mapped onto a closed set. The page needs no JavaScript and
loads nothing from elsewhere: its CSS is inline, so it works on a closed network and under a strict
Content-Security-Policy (`default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:`): the only images
are the faces sessions found, downloaded from the mock itself.

The view models are built here rather than in the templates, so the templates only lay values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

# Closed sets for the values that become CSS classes; anything else reads "unknown".
VERDICTS = ("error", "warning", "clean")
TASK_STATUSES = ("submitted", "processing", "succeed", "failed")

# A long path or body would make the table unreadable; the journal API has them whole.
PATH_SHOWN_CHARS = 200
BODY_SHOWN_CHARS = 4096
# The page reloads every few seconds: a full journal (1000 entries by default) would make each reload slow.
MAX_ROWS = 200

_environment = Environment(
    loader=PackageLoader("mock_server.admin", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(
    entries: list[dict[str, Any]],
    tasks: list[dict[str, Any]] | None,
    *,
    recorded: int,
    dropped: int,
    lost: int = 0,
    refresh_seconds: int = 5,
    max_rows: int = MAX_ROWS,
    upstream: str | None = None,
) -> str:
    """The page at `/__admin`: counts, recent requests (newest first) with their verdicts, then the tasks.

    `entries` are `JournalEntry`s oldest first, as the journal gives them; `tasks` are `/__admin/tasks`
    items, newest first, or None for a server that holds none (a proxy). `recorded`, `dropped` and `lost` are
    the journal's counters: the verdict counts can only cover the entries still kept, so the page says so when
    the bound dropped some, or when requests were never recorded (a Redis journal that was away). The counts
    cover every entry given; the table shows the newest `max_rows` of them. With `upstream` (a proxy's
    backend), each row shows the upstream's answer and its verdict instead of scenarios, which a proxy
    does not play.
    """
    counts = dict.fromkeys(VERDICTS, 0)
    upstream_counts = dict.fromkeys(VERDICTS, 0)
    for entry in entries:
        for tally, verdict in ((counts, entry.get("verdict")), (upstream_counts, _upstream_verdict(entry))):
            result = _closed(_mapping(verdict).get("result"), VERDICTS)
            if result in tally:
                tally[result] += 1
    shown = entries[-max_rows:] if max_rows > 0 else []
    return _environment.get_template("admin_page.html").render(
        rows=[_entry_row(entry) for entry in reversed(shown)],
        tasks=None if tasks is None else [_task_row(item) for item in tasks],
        recorded=recorded,
        dropped=dropped,
        lost=lost,
        kept=len(entries),
        counts=counts,
        upstream=upstream,
        upstream_counts=upstream_counts,
        refresh_seconds=max(0, refresh_seconds),
    )


def render_login(error: str | None = None) -> str:
    """The sign-in form: the admin token, POSTed as a form to `/__admin/login`, which sets a cookie."""
    return _environment.get_template("admin_login.html").render(error=error)


def _entry_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What one journal entry's row shows, with every field optional: a page must not fail on a bad entry."""
    verdict = _mapping(entry.get("verdict"))
    response = _mapping(entry.get("response"))
    path = str(entry.get("path", ""))
    query = str(entry.get("query") or "")
    target = f"{path}?{query}" if query else path
    return {
        "seq": entry.get("seq", ""),
        "request_id": str(entry.get("request_id", "")),
        "time": _clock(entry.get("at")),
        "timestamp": _iso(entry.get("at")),
        "duration": _duration(entry.get("duration_ms")),
        "method": str(entry.get("method", "")),
        "target": _shorten(target, PATH_SHOWN_CHARS),
        "target_full": target,
        "operation": entry.get("operation"),
        "status": response.get("status", ""),
        "code": response.get("code"),
        "message": response.get("message"),
        "caller": entry.get("caller"),
        "scenarios": [str(name) for name in _list(entry.get("scenarios"))],
        "verdict": _closed(verdict.get("result"), VERDICTS),
        "findings": _findings(verdict),
        **_message_parts(entry),
        "upstream": _upstream_cell(entry),
    }


def _message_parts(message: Mapping[str, Any]) -> dict[str, Any]:
    """The headers and body of a request, or of an upstream's answer, as a row shows them."""
    headers = _mapping(message.get("headers"))
    body = str(message.get("body") or "")
    return {
        "headers": sorted((str(name), str(value)) for name, value in headers.items()),
        "body": _shorten(body, BODY_SHOWN_CHARS),
        "body_bytes": message.get("body_bytes", len(body.encode())),
        "body_cut": len(body) > BODY_SHOWN_CHARS or bool(message.get("body_truncated")),
    }


def _upstream_cell(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a proxied row shows of the upstream's answer: its verdict, or why there was no answer."""
    upstream = entry.get("upstream")
    if not isinstance(upstream, Mapping):
        return None
    verdict = _mapping(upstream.get("verdict"))
    return {
        "status": upstream.get("status"),
        "error": upstream.get("error"),
        "verdict": _closed(verdict.get("result"), VERDICTS),
        "findings": _findings(verdict),
        **_message_parts(upstream),
    }


def _upstream_verdict(entry: Mapping[str, Any]) -> Any:
    return _mapping(entry.get("upstream")).get("verdict")


def _findings(verdict: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        *(_finding(finding, "error") for finding in _list(verdict.get("errors"))),
        *(_finding(finding, "warning") for finding in _list(verdict.get("warnings"))),
    ]


def _finding(finding: Any, severity: str) -> dict[str, str]:
    finding = _mapping(finding)
    return {
        "severity": severity,
        "rule": str(finding.get("rule", "")),
        "path": str(finding.get("path", "")),
        "message": str(finding.get("message", "")),
    }


def _task_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """What one `/__admin/tasks` item's row shows: its kind; the faces found (each with its picture, for a person to
    tell them apart) or the videos made when it succeeded; the reason when it failed."""
    task = _mapping(item.get("task"))
    status = str(task.get("task_status", ""))
    result = _mapping(task.get("task_result"))
    faces = [_mapping(face) for face in _list(result.get("face_data"))]
    videos = _list(result.get("videos"))
    detail = ""
    if status == "succeed" and videos:
        detail = f"{len(videos)} video" if len(videos) == 1 else f"{len(videos)} videos"
    elif status == "succeed":
        detail = f"{len(faces)} face" if len(faces) == 1 else f"{len(faces)} faces"
    elif status == "failed":
        detail = str(task.get("task_status_msg") or "")
    return {
        "task_id": str(task.get("task_id", "")),
        "kind": str(item.get("kind") or ""),
        "faces": [
            {"face_id": str(face.get("face_id", "")), "image": _image_url(face.get("face_image"))}
            for face in faces
            if status == "succeed"
        ],
        "caller": item.get("caller"),
        "status": status,
        "status_class": _closed(status, TASK_STATUSES),
        "created": _clock(task.get("created_at")),
        "created_full": _iso(task.get("created_at")),
        "updated": _clock(task.get("updated_at")),
        "updated_full": _iso(task.get("updated_at")),
        "detail": detail,
    }


def _image_url(value: Any) -> str | None:
    """A face's picture as an `img` may load it: an http(s) URL (the mock's own download URL), else none."""
    return value if isinstance(value, str) and urlsplit(value).scheme in ("http", "https") else None


def _closed(value: Any, allowed: Iterable[str]) -> str:
    """`value` if it is one of `allowed`, else "unknown": only known words become class names."""
    return value if isinstance(value, str) and value in allowed else "unknown"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _moment(epoch_ms: Any) -> datetime | None:
    if not isinstance(epoch_ms, int | float) or isinstance(epoch_ms, bool):
        return None
    try:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _clock(epoch_ms: Any) -> str:
    """HH:MM:SS.mmm in UTC: recent requests are told apart by the time of day."""
    moment = _moment(epoch_ms)
    if moment is None:
        return "?"
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def _iso(epoch_ms: Any) -> str:
    """The full date and time, for a tooltip."""
    moment = _moment(epoch_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else ""


def _duration(duration_ms: Any) -> str:
    if not isinstance(duration_ms, int | float) or isinstance(duration_ms, bool):
        return ""
    return f"{duration_ms:.0f} ms" if duration_ms >= 10 else f"{duration_ms:.1f} ms"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
