"""Fast unit tests of `mock_server.admin.page`: what people see at `/__admin`, without a server.

Journal entries carry whatever anyone sent, so most of these check that hostile text stays text. The page
is parsed back with the standard library's HTML parser: what a browser would build, not what a regex sees.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from mock_server.admin.page import render_login, render_page

HOSTILE = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Element] = []
        self.content: list[Element | str] = []  # text and children, in document order

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.content)

    def iter(self) -> list[Element]:
        found = [self]
        for child in self.children:
            found.extend(child.iter())
        return found

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            element
            for element in self.iter()[1:]
            if (tag is None or element.tag == tag) and (cls is None or cls in element.classes)
        ]


_VOID = {"meta", "input", "br", "img", "link", "hr"}


class TreeBuilder(HTMLParser):
    """A small DOM: enough to ask which elements and attributes the browser would get."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        self.current.content.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.content.append(data)


def parse(html: str) -> Element:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def finding(rule: str, path: str, message: str) -> dict[str, str]:
    return {"rule": rule, "path": path, "message": message}


def entry(seq: int, **overrides: Any) -> dict[str, Any]:
    """A JournalEntry as admin.yaml describes it."""
    base: dict[str, Any] = {
        "seq": seq,
        "request_id": f"req-{seq}",
        "at": 1_700_000_000_000 + seq * 1_001,
        "duration_ms": 1.25,
        "method": "POST",
        "path": "/kling/v1/videos/identify-face",
        "query": "",
        "operation": "createIdentifyFaceTask",
        "caller": "0123456789ab",
        "headers": {"authorization": "<redacted>", "content-type": "application/json"},
        "body": '{"input": {}}',
        "body_bytes": 13,
        "body_truncated": False,
        "response": {"status": 200, "code": 0, "message": "SUCCEED"},
        "scenarios": [],
        "verdict": {"result": "clean", "errors": [], "warnings": []},
    }
    base.update(overrides)
    return base


def task_item(task_id: str, status: str, **task: Any) -> dict[str, Any]:
    return {
        "caller": "0123456789ab",
        "task": {
            "task_id": task_id,
            "task_status": status,
            "created_at": 1_700_000_000_000,
            "updated_at": 1_700_000_001_500,
        }
        | task,
    }


def entry_rows(page: Element) -> list[Element]:
    return page.find_all("tr", "entry")


def test_hostile_path_query_body_and_headers_stay_text() -> None:
    hostile = entry(
        1,
        path="/" + HOSTILE,
        query="q=" + HOSTILE,
        method=HOSTILE,
        request_id=HOSTILE,
        caller=HOSTILE,
        headers={HOSTILE: HOSTILE, "x-evil": "</td></tr></table><script>alert(3)</script>"},
        body=HOSTILE,
        operation=HOSTILE,
        scenarios=[HOSTILE],
        response={"status": 400, "code": 1201, "message": HOSTILE},
        verdict={"result": "error", "errors": [finding(HOSTILE, HOSTILE, HOSTILE)], "warnings": []},
    )
    html = render_page([hostile], [task_item(HOSTILE, "failed", task_status_msg=HOSTILE)], recorded=1, dropped=0)
    page = parse(html)

    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert not page.find_all("script")
    assert not page.find_all("img")
    assert all(not name.startswith("on") for element in page.iter() for name in element.attrs)
    (row,) = entry_rows(page)
    # Quotes in attributes come back as the same text, not as new attributes.
    assert row.attrs["data-request-id"] == HOSTILE
    (item,) = page.find_all("li", "finding")
    assert item.attrs["data-rule"] == HOSTILE
    assert item.attrs["data-path"] == HOSTILE
    assert HOSTILE in row.text()
    assert "</td></tr></table><script>alert(3)</script>" in row.text()
    (task_row,) = page.find_all("tr", "task")
    assert task_row.attrs["data-task-id"] == HOSTILE
    assert HOSTILE in task_row.text()
    # The rows still hold the cells they should: nothing the input carried closed them early.
    assert len(row.find_all("td", None)) >= 6


def test_class_names_come_from_a_closed_set() -> None:
    """A verdict or status that is not one of the known words must not inject class names."""
    odd = entry(1, verdict={"result": "error x-injected", "errors": [], "warnings": []})
    page = parse(render_page([odd], [task_item("t1", "succeed other")], recorded=1, dropped=0))
    (row,) = entry_rows(page)
    assert row.classes == ["entry", "verdict-unknown"]
    (task_row,) = page.find_all("tr", "task")
    assert task_row.classes == ["task", "status-unknown"]


def test_findings_and_badges_render() -> None:
    error = entry(
        1,
        response={"status": 400, "code": 1201, "message": "input.mode: must be one of text2video"},
        verdict={
            "result": "error",
            "errors": [finding("enum", "input.mode", "must be one of text2video, audio2video")],
            "warnings": [finding("unknown-field", "input.extra", "not in the spec")],
        },
        scenarios=["flaky", "slow"],
    )
    warning = entry(
        2, verdict={"result": "warning", "errors": [], "warnings": [finding("polling-too-fast", "query", "x")]}
    )
    clean = entry(3)
    page = parse(render_page([error, warning, clean], [], recorded=3, dropped=0))
    rows = {row.attrs["data-request-id"]: row for row in entry_rows(page)}

    assert rows["req-1"].classes == ["entry", "verdict-error"]
    assert rows["req-2"].classes == ["entry", "verdict-warning"]
    assert rows["req-3"].classes == ["entry", "verdict-clean"]
    for request_id, verdict in [("req-1", "error"), ("req-2", "warning"), ("req-3", "clean")]:
        (badge,) = rows[request_id].find_all("span", "badge")
        assert badge.classes == ["badge", f"verdict-{verdict}"]
        assert badge.text() == verdict

    findings = rows["req-1"].find_all("li", "finding")
    assert [(item.attrs["data-rule"], item.attrs["data-path"]) for item in findings] == [
        ("enum", "input.mode"),
        ("unknown-field", "input.extra"),
    ]
    assert findings[0].classes == ["finding", "severity-error"]
    assert findings[1].classes == ["finding", "severity-warning"]
    assert " ".join(findings[0].text().split()) == "enum input.mode: must be one of text2video, audio2video"
    assert not rows["req-3"].find_all("li", "finding")

    answer = " ".join(rows["req-1"].find_all("td", "answer")[0].text().split())
    assert answer.startswith("400 · 1201")
    assert [span.text() for span in rows["req-1"].find_all("span", "scenario")] == ["flaky", "slow"]


def test_counts_in_the_header() -> None:
    entries = [
        entry(1, verdict={"result": "error", "errors": [finding("enum", "input.mode", "m")], "warnings": []}),
        entry(
            2,
            verdict={
                "result": "error",
                "errors": [finding("auth-missing", "header.Authorization", "m")],
                "warnings": [],
            },
        ),
        entry(3, verdict={"result": "warning", "errors": [], "warnings": [finding("unknown-field", "input.x", "m")]}),
        entry(4),
    ]
    page = parse(render_page(entries, [], recorded=4, dropped=0))
    counts = {
        item.classes[0]: item.find_all("strong")[0].text()
        for item in page.find_all("li")
        if item.classes and item.classes[0].startswith("count-")
    }
    assert counts == {"count-recorded": "4", "count-error": "2", "count-warning": "1", "count-clean": "1"}
    assert not page.find_all("p", "dropped")


def test_newest_first() -> None:
    page = parse(render_page([entry(1), entry(2), entry(3)], [], recorded=3, dropped=0))
    assert [row.attrs["data-seq"] for row in entry_rows(page)] == ["3", "2", "1"]


def test_time_is_hh_mm_ss_mmm() -> None:
    page = parse(render_page([entry(1, at=1_700_000_000_123)], [], recorded=1, dropped=0))
    (cell,) = entry_rows(page)[0].find_all("td", "time")
    assert cell.text().startswith("22:13:20.123")
    assert cell.attrs["title"] == "2023-11-14T22:13:20.123Z"


def test_path_and_query_are_shown_together() -> None:
    page = parse(
        render_page(
            [entry(1, method="GET", path="/kling/v1/videos/identify-face", query="pageNum=1&pageSize=2")],
            [],
            recorded=1,
            dropped=0,
        )
    )
    (path,) = page.find_all("span", "path")
    assert path.text() == "/kling/v1/videos/identify-face?pageNum=1&pageSize=2"


def test_a_long_body_is_cut_on_the_page() -> None:
    page = parse(render_page([entry(1, body="x" * 100_000, body_bytes=100_000)], [], recorded=1, dropped=0))
    (body,) = page.find_all("pre", "body")
    assert len(body.text()) < 10_000


def test_the_table_shows_the_newest_rows_and_counts_them_all() -> None:
    entries = [entry(seq, verdict={"result": "error", "errors": [], "warnings": []}) for seq in range(1, 11)]
    page = parse(render_page(entries, [], recorded=10, dropped=0, max_rows=3))
    assert [row.attrs["data-seq"] for row in entry_rows(page)] == ["10", "9", "8"]
    (count,) = [item for item in page.find_all("li") if "count-error" in item.classes]
    assert count.find_all("strong")[0].text() == "10"
    (note,) = page.find_all("p", "more-rows")
    assert " ".join(note.text().split()).startswith("The newest 3 of 10 kept")


def test_no_note_when_every_row_is_shown() -> None:
    page = parse(render_page([entry(1), entry(2)], [], recorded=2, dropped=0))
    assert not page.find_all("p", "more-rows")


def test_dropped_notice() -> None:
    page = parse(render_page([entry(5), entry(6)], [], recorded=6, dropped=4))
    (notice,) = page.find_all("p", "dropped")
    text = " ".join(notice.text().split())
    assert text.startswith("4 older requests dropped")
    assert "cover the 2 kept" in text


@pytest.mark.parametrize(("lost", "start"), [(0, None), (1, "1 request answered"), (3, "3 requests answered")])
def test_lost_notice(lost: int, start: str | None) -> None:
    """A Redis journal that was away: the requests it never recorded are named, as no verdict covers them."""
    page = parse(render_page([entry(1)], [], recorded=1, dropped=0, lost=lost))
    notices = [" ".join(notice.text().split()) for notice in page.find_all("p", "lost")]
    if start is None:
        assert notices == []
    else:
        (notice,) = notices
        assert notice.startswith(f"{start} but never recorded")


def test_empty_states() -> None:
    page = parse(render_page([], [], recorded=0, dropped=0))
    empty = [" ".join(row.text().split()) for row in page.find_all("tr", "empty-state")]
    assert empty == ["No requests yet.", "No tasks yet."]
    assert not entry_rows(page)
    assert not page.find_all("tr", "task")


def test_tasks_with_their_status() -> None:
    faces = {"session_id": "s", "face_data": [{"face_id": "0"}, {"face_id": "1"}]}
    tasks = [
        task_item("t-new", "submitted"),
        task_item("t-run", "processing"),
        task_item("t-ok", "succeed", task_result=faces),
        task_item("t-bad", "failed", task_status_msg="no face found in the video"),
    ]
    page = parse(render_page([], tasks, recorded=0, dropped=0))
    rows = page.find_all("tr", "task")
    assert [row.attrs["data-task-id"] for row in rows] == ["t-new", "t-run", "t-ok", "t-bad"]
    assert [row.classes[1] for row in rows] == [
        "status-submitted",
        "status-processing",
        "status-succeed",
        "status-failed",
    ]
    for row in rows:
        (badge,) = row.find_all("span", "badge")
        assert badge.classes[1] == row.classes[1]
    assert rows[2].find_all("td", "detail")[0].text() == "2 faces"
    assert rows[3].find_all("td", "detail")[0].text() == "no face found in the video"
    assert rows[0].find_all("td", "detail")[0].text() == ""
    assert rows[0].find_all("td", "caller")[0].text() == "0123456789ab"
    assert rows[0].find_all("td", "created")[0].text() == "22:13:20.000"
    assert rows[0].find_all("td", "updated")[0].text() == "22:13:21.500"


def test_sessions_show_their_faces_and_lip_sync_tasks_their_kind() -> None:
    """A session's faces are pictures a person can tell apart, loaded from the mock's own download URLs; only
    http(s) URLs become an `img`; each task says which operation made it."""
    base = "http://127.0.0.1:8000/files/faces/s"
    faces = [
        {"face_id": "0", "face_image": f"{base}/0/sig0.png"},
        {"face_id": "1", "face_image": f"{base}/1/sig1.png"},
        {"face_id": "2", "face_image": "javascript:alert(1)"},
    ]
    videos = {"videos": [{"id": "v", "url": "http://127.0.0.1:8000/files/videos/t/sig.mp4", "duration": "4.0"}]}
    tasks = [
        {**task_item("lip", "succeed", task_result=videos), "kind": "advanced-lip-sync"},
        {**task_item("sess", "succeed", task_result={"session_id": "s", "face_data": faces}), "kind": "identify-face"},
        {**task_item("run", "processing"), "kind": "lip-sync"},
    ]
    page = parse(render_page([], tasks, recorded=0, dropped=0))
    rows = page.find_all("tr", "task")
    assert [row.find_all("td", "kind")[0].text() for row in rows] == ["advanced-lip-sync", "identify-face", "lip-sync"]
    assert rows[0].find_all("td", "detail")[0].text() == "1 video"
    assert not rows[0].find_all("img") and not rows[2].find_all("img")
    images = rows[1].find_all("img")
    assert [(img.attrs["src"], img.attrs["alt"]) for img in images] == [
        (f"{base}/0/sig0.png", "face 0"),
        (f"{base}/1/sig1.png", "face 1"),
    ]
    assert "javascript:" not in render_page([], tasks, recorded=0, dropped=0)


def test_a_missing_caller_reads_as_a_dash() -> None:
    page = parse(render_page([entry(1, caller=None)], [], recorded=1, dropped=0))
    assert entry_rows(page)[0].find_all("td", "caller")[0].text() == "—"


def test_a_cut_off_answer_has_no_code() -> None:
    page = parse(
        render_page([entry(1, response={"status": 200, "code": None, "message": None})], [], recorded=1, dropped=0)
    )
    assert entry_rows(page)[0].find_all("span", "code")[0].text() == "cut off"


@pytest.mark.parametrize(("seconds", "expected"), [(5, "5"), (30, "30"), (0, None)])
def test_refresh(seconds: int, expected: str | None) -> None:
    page = parse(render_page([], [], recorded=0, dropped=0, refresh_seconds=seconds))
    refresh = [meta.attrs.get("content") for meta in page.find_all("meta") if meta.attrs.get("http-equiv") == "refresh"]
    assert refresh == ([expected] if expected else [])


def test_self_contained() -> None:
    """Nothing loaded from elsewhere, no JavaScript: the page works on a closed network and under a strict CSP."""
    html = render_page([entry(1)], [task_item("t", "succeed", task_result={"face_data": [{}]})], recorded=1, dropped=0)
    page = parse(html)
    assert not page.find_all("script")
    # The only link is an empty icon, so that the browser asks the mock for no /favicon.ico.
    assert [(link.attrs["rel"], link.attrs["href"]) for link in page.find_all("link")] == [("icon", "data:,")]
    assert "http://" not in html and "https://" not in html
    assert page.find_all("style")


def test_login_form() -> None:
    page = parse(render_login())
    (form,) = page.find_all("form")
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == "/__admin/login"
    assert form.attrs.get("enctype", "application/x-www-form-urlencoded") == "application/x-www-form-urlencoded"
    (field,) = form.find_all("input")
    assert field.attrs["type"] == "password"
    assert field.attrs["name"] == "token"
    assert form.find_all("button")[0].attrs["type"] == "submit"
    assert not page.find_all(cls="error-message")
    assert not page.find_all("script")


def test_login_error_is_shown_and_escaped() -> None:
    page = parse(render_login("wrong token " + HOSTILE))
    (message,) = page.find_all(cls="error-message")
    assert message.text() == "wrong token " + HOSTILE
    assert not page.find_all("script")


# A proxy's page: the upstream's answer and verdict in place of scenarios, no tasks.


def upstream_answer(status: int | None = 200, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": status,
        "headers": {"content-type": "text/plain"},
        "body": HOSTILE,
        "body_bytes": len(HOSTILE),
        "body_truncated": False,
        "error": None,
        "verdict": {"result": "clean", "errors": [], "warnings": []},
    }
    base.update(overrides)
    return base


def test_a_proxys_page_shows_the_upstreams_verdict_and_no_tasks() -> None:
    broken = upstream_answer(
        verdict={
            "result": "error",
            "errors": [finding("response-schema", "data.created_at", "data.created_at: must be >= 1000000000000")],
            "warnings": [],
        }
    )
    unanswered = upstream_answer(None, error=f"the upstream could not be reached {HOSTILE}", verdict=None)
    entries = [entry(1, upstream=broken), entry(2, upstream=unanswered), entry(3, upstream=upstream_answer())]
    html = render_page(entries, None, recorded=3, dropped=0, upstream=f"https://staging.example.com/{HOSTILE}")
    page = parse(html)
    assert page.find_all("h1")[0].text() == "kling-mock proxy"
    (forwarding,) = page.find_all("p", "upstream")
    assert HOSTILE in forwarding.text()
    assert not page.find_all("script") and not page.find_all("img")
    assert "tasks" not in [table.attrs.get("id") for table in page.find_all("table")]
    assert not page.find_all("td", "scenarios")
    counts = {
        item.classes[0]: item.find_all("strong")[0].text()
        for item in page.find_all("li")
        if item.classes and item.classes[0].startswith("count-")
    }
    assert (counts["count-upstream-error"], counts["count-upstream-warning"], counts["count-clean"]) == ("1", "0", "3")
    rows = {row.attrs["data-request-id"]: row for row in entry_rows(page)}
    (cell,) = rows["req-1"].find_all("td", "upstream-verdict")
    assert [badge.text() for badge in cell.find_all("span", "badge")] == ["error"]
    assert [item.attrs["data-rule"] for item in cell.find_all("li", "finding")] == ["response-schema"]
    assert HOSTILE in cell.find_all("pre", "body")[0].text()
    (cell,) = rows["req-2"].find_all("td", "upstream-verdict")
    assert cell.find_all("span", "badge")[0].text() == "no answer"
    assert HOSTILE in cell.find_all("span", "upstream-error")[0].text()
    # The client's verdict keeps its own column.
    assert [badge.text() for badge in rows["req-3"].find_all("td", "verdict")[0].find_all("span", "badge")] == ["clean"]
