"""`kling-mock serve --dialect upstream` over real HTTP: the synchronous identify-face of docs/contract.md."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from mock_server.client.process import MockProcess
from mock_server.spec import DEFAULT_SPEC_PATH, UPSTREAM_SPEC_PATH, load_spec
from tests.support import CREATE_PATH, SEED_EXAMPLE, SPEC_CREATE_PATH, TOKEN

ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
VIDEO_URL = "https://example.com/videos/presenter.mp4"


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockProcess]:
    with MockProcess("--dialect", "upstream", "--admin") as mock:
        yield mock


@pytest.fixture
def http(upstream: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=upstream.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        yield client


def _refusal(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    assert ID.match(body["request_id"])
    return response.status_code, body["code"], body["message"]


def _assert_faces(body: dict[str, Any], count: int, base_url: str) -> None:
    assert (body["code"], body["message"]) == (0, "SUCCEED")
    faces = body["data"]["face_data"]
    assert [face["face_id"] for face in faces] == [str(index) for index in range(count)]
    for face in faces:
        assert 0 <= face["start_time"] <= face["end_time"]
        # Downloadable from the mock itself, at the address and prefix the client used.
        assert face["face_image"].startswith(f"{base_url}/kling/files/faces/")
        assert face["face_image"].endswith(".png")


def test_minimal_request_gets_the_faces_at_once_with_fresh_ids(upstream: MockProcess, http: httpx.Client) -> None:
    answers = [http.post(CREATE_PATH, json={"video_url": VIDEO_URL}) for _ in range(3)]
    bodies = [answer.json() for answer in answers]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    for body in bodies:
        _assert_faces(body, 1, upstream.base_url)
        assert "task_id" not in body["data"] and "task_status" not in body["data"]
        assert ID.match(body["request_id"]) and ID.match(body["data"]["session_id"])
    assert len({body["request_id"] for body in bodies}) == len({body["data"]["session_id"] for body in bodies}) == 3


def test_video_id_alone_and_an_empty_other_field_are_accepted(http: httpx.Client) -> None:
    for body in [
        {"video_id": "de1b86d9"},
        {"video_id": "", "video_url": VIDEO_URL},
        {"video_id": "v", "video_url": ""},
    ]:
        assert http.post(CREATE_PATH, json=body).status_code == 200, body


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"video_id": "v1", "video_url": VIDEO_URL}, "video_id and video_url are both set"),
        ({}, "video_id or video_url is required"),
        ({"video_id": "", "video_url": ""}, "video_id or video_url is required"),
    ],
    ids=["both", "neither", "both-empty"],
)
def test_exactly_one_video_field(http: httpx.Client, body: dict[str, Any], words: str) -> None:
    status, code, message = _refusal(http.post(CREATE_PATH, json=body))
    assert (status, code) == (400, 1201)
    assert words in message


def test_the_documented_dialects_body_is_told_where_its_fields_go(http: httpx.Client) -> None:
    status, code, message = _refusal(http.post(CREATE_PATH, json=SEED_EXAMPLE))
    assert (status, code) == (400, 1201)
    assert "upstream dialect" in message and "top level" in message and "input" in message


def test_a_bad_video_url_is_named(http: httpx.Client) -> None:
    status, code, message = _refusal(http.post(CREATE_PATH, json={"video_url": "presenter.mp4"}))
    assert (status, code) == (400, 1201)
    assert message.startswith("video_url: ")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (401, 1001)),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, (401, 1002)),
        ({"Authorization": "Bearer"}, (401, 1002)),
    ],
    ids=["missing", "not-bearer", "no-token"],
)
def test_auth_codes_as_usual(upstream: MockProcess, headers: dict[str, str], expected: tuple[int, int]) -> None:
    with httpx.Client(base_url=upstream.base_url, timeout=30) as bare:
        assert _refusal(bare.post(CREATE_PATH, json={"video_url": VIDEO_URL}, headers=headers))[:2] == expected


def test_with_keys_only_those_are_accepted() -> None:
    with MockProcess("--dialect", "upstream", "--keys", "key-one") as mock, httpx.Client(base_url=mock.base_url) as h:
        for key, expected in [("key-one", (200, 0)), ("key-two", (401, 1000))]:
            response = h.post(CREATE_PATH, json={"video_url": VIDEO_URL}, headers={"Authorization": f"Bearer {key}"})
            assert (response.status_code, response.json()["code"]) == expected


@pytest.mark.parametrize("field", ["video_url", "video_id"])
def test_faces_marker_picks_how_many(upstream: MockProcess, http: httpx.Client, field: str) -> None:
    video = "https://example.com/faces-3.mp4" if field == "video_url" else "clip-faces-3"
    _assert_faces(http.post(CREATE_PATH, json={field: video}).json(), 3, upstream.base_url)


@pytest.mark.parametrize(
    ("marker", "reason"),
    [
        ("no-face", "no face was found in the video"),
        ("too-long", "the video is longer than the 60 seconds identify-face accepts"),
        ("unreachable", "the video could not be downloaded"),
    ],
)
@pytest.mark.parametrize("field", ["video_url", "video_id"])
def test_failure_markers_are_refused_naming_the_field(http: httpx.Client, field: str, marker: str, reason: str) -> None:
    video = f"https://example.com/{marker}.mp4" if field == "video_url" else f"clip-{marker}"
    assert _refusal(http.post(CREATE_PATH, json={field: video})) == (400, 1201, f"{field}: {reason}")


def test_the_same_video_finds_the_same_faces_in_a_new_session(http: httpx.Client) -> None:
    first, second = (http.post(CREATE_PATH, json={"video_url": VIDEO_URL}).json()["data"] for _ in range(2))
    assert first["session_id"] != second["session_id"]
    times = [[(face["start_time"], face["end_time"]) for face in data["face_data"]] for data in (first, second)]
    assert times[0] == times[1]


def test_seed_repeats_every_answer() -> None:
    requests = [
        {"video_url": VIDEO_URL},
        {"video_id": "clip-faces-2"},
        {"video_url": "https://example.com/no-face.mp4"},
    ]
    runs = []
    for _ in range(2):
        with (
            # One public URL for both: results' URLs would otherwise differ by the port each mock happened to get.
            MockProcess(
                "--dialect", "upstream", "--seed", "20261124", "--public-url", "http://kling-mock.test:8000"
            ) as mock,
            httpx.Client(base_url=mock.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
        ):
            runs.append([client.post(CREATE_PATH, json=body).json() for body in requests])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", CREATE_PATH, (404, 1202)),
        ("DELETE", CREATE_PATH, (404, 1202)),
        ("GET", f"{CREATE_PATH}/CmJ8DGePZioAAAAAAFIvOQ", (404, 1203)),
    ],
)
def test_no_task_routes(http: httpx.Client, method: str, path: str, expected: tuple[int, int]) -> None:
    assert _refusal(http.request(method, path))[:2] == expected


def test_no_task_is_stored_and_the_journal_judges_by_the_upstream_spec(
    upstream: MockProcess, http: httpx.Client
) -> None:
    http.post(f"{upstream.base_url}/__admin/reset")
    answers = [
        http.post(CREATE_PATH, json={"video_url": VIDEO_URL}),
        http.post(CREATE_PATH, json={"video_url": VIDEO_URL, "mode": "text2video"}),
        http.post(CREATE_PATH, json={"video_url": "https://example.com/no-face.mp4"}),
    ]
    sessions = [answer.json()["data"]["session_id"] for answer in answers[:2]]
    # No task to poll: what is kept is each answer's session (advanced lip-sync needs it), of a kind of its own.
    # (A reset clears the journal, not the store: the module's earlier sessions are listed after these.)
    listed = http.get("/__admin/tasks").json()["tasks"]
    assert {item["kind"] for item in listed} == {"identify-face-at-once"}
    assert [item["task"]["task_id"] for item in listed[:2]] == sessions[::-1]
    entries = http.get("/__admin/journal").json()["entries"]
    assert [entry["operation"] for entry in entries] == ["identifyFace"] * 3
    verdicts = [entry["verdict"] for entry in entries]
    assert [verdict["result"] for verdict in verdicts] == ["clean", "warning", "clean"]
    assert [(w["rule"], w["path"]) for w in verdicts[1]["warnings"]] == [("unknown-field", "mode")]
    for session in sessions:
        assert _refusal(http.get(f"{CREATE_PATH}/{session}"))[:2] == (404, 1203)


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("task=failed", (400, 1201, "video_url: no faces could be identified (scenario)")),
        ("task=processing", (504, 5002)),
    ],
)
def test_task_scenarios_have_a_synchronous_meaning(
    http: httpx.Client, scenario: str, expected: tuple[Any, ...]
) -> None:
    """A synchronous call has no task to fail or hold: `failed` refuses it, `processing` times it out."""
    response = http.post(CREATE_PATH, json={"video_url": VIDEO_URL}, headers={"X-Kling-Mock-Scenario": scenario})
    assert _refusal(response)[: len(expected)] == expected


def test_serves_its_spec_self_contained(http: httpx.Client) -> None:
    response = http.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(response.text)
    refs = re.findall(r"\$ref: '?([^'\s]+)", response.text)
    assert refs and all(ref.startswith("#/") for ref in refs)
    assert [op["operationId"] for op in document["paths"][SPEC_CREATE_PATH].values()] == ["identifyFace"]
    assert {"TaskResult", "FaceData", "SuccessEnvelope"} <= document["components"]["schemas"].keys()


def test_spec_of_the_upstream_dialect_given_alone_speaks_it() -> None:
    with MockProcess("--spec", str(UPSTREAM_SPEC_PATH)) as mock, httpx.Client(base_url=mock.base_url) as client:
        response = client.post(CREATE_PATH, json={"video_url": VIDEO_URL}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert "face_data" in response.json()["data"]


def test_dialect_and_a_spec_of_the_other_dialect_are_refused() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_server",
            "serve",
            "--port",
            "0",
            "--dialect",
            "upstream",
            "--spec",
            str(DEFAULT_SPEC_PATH),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "is not of the upstream dialect: it has no identifyFace operation" in result.stderr
    assert "Traceback" not in result.stderr


def test_documented_dialect_by_name_is_the_default() -> None:
    with MockProcess("--dialect", "documented") as mock, httpx.Client(base_url=mock.base_url) as client:
        created = client.post(CREATE_PATH, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {TOKEN}"}).json()
        spec = client.get("/openapi.yaml").text
    assert created["data"]["task_status"] == "submitted"
    # The documented spec, bundled with the lip-sync path items it references.
    assert spec == load_spec(DEFAULT_SPEC_PATH).text
