"""The container image, built and run for real with podman: what docs/container.md promises.

The session builds the image once, with `make image` (the wheelhouse, then `podman build`), on a Debian bookworm
base made here with debootstrap and kept under its tag (`make base-image`), since no registry can be reached; with
`KLING_MOCK_IMAGE_BASE` set, on that base instead (e.g. python:3.11-slim where a registry is reachable). The image
is removed at the end of the session, and every container and volume a test makes when the test ends, passed or
failed. Every request comes from the host, with httpx, through a port published on 127.0.0.1.

Without podman (or, for the base, debootstrap and root) the tests are skipped, except in CI (`$CI` set), where
they must run: `.ci/run` installs podman, runc and debootstrap.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import jwt
import pytest

from tests.support import CREATE_PATH, ROOT, SEED_EXAMPLE, free_loopback_port, skip_or_fail
from tests.support.redis_server import RedisServer, redis_server_executable

LOCAL_BASE = "localhost/kling-mock-base:bookworm"
BASE_ENV = "KLING_MOCK_IMAGE_BASE"
UID = "10001"
# The build (and, on a fresh machine, the base) takes a minute or two: more than pytest's default per test.
pytestmark = pytest.mark.timeout(900)
# rlimits the sandboxes of this project's machines accept (they refuse podman's defaults); harmless elsewhere.
LIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
START_SECONDS = 30
# A stop that has to wait for podman's SIGKILL takes its whole stop timeout: far more than this.
STOP_TIMEOUT_SECONDS = 10
CLEAN_STOP_SECONDS = 5
LISTENING = "kling-mock listening on http://0.0.0.0:8000"
KEY, SECOND_KEY = "container-test-key", "container-test-second-key"
ACCESS_KEY, SECRET_KEY = "ak-container-" + secrets.token_hex(6), secrets.token_urlsafe(32)


def _in_ci_or_skip(reason: str, fix: str) -> NoReturn:
    skip_or_fail(reason, "CI must build and run the image (.ci/run installs podman, runc and debootstrap)", fix)


@dataclass
class Podman:
    """podman with the flags this machine needs, and a record of what the tests made, to remove it."""

    command: list[str]
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.command, *args], capture_output=True, text=True, timeout=timeout, check=False, env=_podman_env()
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    def name(self, what: str) -> str:
        return f"kling-mock-test-{what}-{secrets.token_hex(4)}"

    def volume(self) -> str:
        name = self.name("volume")
        self.volumes.append(name)
        self("volume", "create", name)
        return name

    def start(self, image: str, *args: str, options: tuple[str, ...] = (), publish: bool = True) -> Container:
        """`podman run -d` of the image (its default command unless `args`), once it says it listens."""
        name = self.name("mock")
        self.containers.append(name)
        ports = ("--publish", "127.0.0.1::8000") if publish else ()
        self("run", "--detach", "--name", name, *LIMITS, *ports, *options, image, *args)
        container = Container(self, name)
        container.wait_until_listening()
        return container

    def remove_all(self) -> None:
        for name in self.containers:
            self("rm", "--force", "--volumes", "--time", "0", name, check=False)
        for name in self.volumes:
            self("volume", "rm", "--force", name, check=False)
        self.containers.clear()
        self.volumes.clear()


def _podman_env() -> dict[str, str]:
    # The secret key reaches a container through `-e NAME` (from podman's environment), never on a command line.
    return {**os.environ, "KLING_MOCK_SECRET_KEY": SECRET_KEY}


@dataclass
class Container:
    podman: Podman
    name: str

    @property
    def base_url(self) -> str:
        published = self.podman("port", self.name, "8000/tcp").stdout.split()[0]
        return f"http://{published}"

    def logs(self) -> str:
        result = self.podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def running(self) -> bool:
        return self.podman("inspect", "--format", "{{.State.Running}}", self.name).stdout.strip() == "true"

    def wait_until_listening(self, line: str = "kling-mock listening on ") -> None:
        deadline = time.monotonic() + START_SECONDS
        while line not in self.logs():
            if not self.running() or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.logs()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> tuple[int, float]:
        """`podman stop` (the image's STOPSIGNAL): the exit code, and how long it took."""
        started = time.monotonic()
        self.podman("stop", "--time", str(STOP_TIMEOUT_SECONDS), self.name)
        elapsed = time.monotonic() - started
        exit_code = self.podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()
        return int(exit_code), elapsed

    def client(self, token: str = "any-token") -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture(scope="session")
def podman_command() -> list[str]:
    found = shutil.which("podman")
    if found is None:
        _in_ci_or_skip("needs podman to build and run the image", "apt-get install podman runc debootstrap")
    # Debian's runc, when installed: podman's default runtime (crun) is refused by some sandboxes' cgroups.
    return [found, "--runtime", "runc"] if shutil.which("runc") else [found]


@pytest.fixture(scope="session")
def image(podman_command: list[str]) -> Iterator[str]:
    """The image, built once for the session by `make image`, and removed at its end."""
    podman = Podman(podman_command)
    base = os.environ.get(BASE_ENV) or LOCAL_BASE
    missing = base == LOCAL_BASE and podman("image", "inspect", LOCAL_BASE, check=False).returncode != 0
    if missing and (shutil.which("debootstrap") is None or os.geteuid() != 0):
        _in_ci_or_skip(
            f"needs root and debootstrap to make the base image {LOCAL_BASE}",
            f"apt-get install debootstrap and run as root, or set {BASE_ENV}=python:3.11-slim",
        )
    make = shutil.which("make")
    if make is None:
        _in_ci_or_skip("needs make", "apt-get install make")
    tag = f"localhost/kling-mock:test-{secrets.token_hex(4)}"
    command = [make, "--no-print-directory", "-C", str(ROOT), "image", f"IMAGE={tag}", f"BASE={base}"]
    # No intermediate images are kept: the session leaves nothing but the base.
    command.append("IMAGE_BUILD_ARGS=--layers=false")
    build = subprocess.run(command, capture_output=True, text=True, timeout=840, check=False)
    try:
        assert build.returncode == 0, f"make image failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)


@pytest.fixture
def podman(podman_command: list[str]) -> Iterator[Podman]:
    """podman for one test: what the test makes is removed when it ends, passed or failed."""
    made = Podman(podman_command)
    try:
        yield made
    finally:
        made.remove_all()


@pytest.fixture(scope="module")
def keyed_mock(podman_command: list[str], image: str) -> Iterator[Container]:
    """One mock for the module, as a team's CI runs it: only two API keys, and a Kling access/secret key pair."""
    podman = Podman(podman_command)
    try:
        options = ("--env", f"KLING_MOCK_KEYS={KEY},{SECOND_KEY}", "--env", f"KLING_MOCK_ACCESS_KEY={ACCESS_KEY}")
        yield podman.start(image, options=(*options, "--env", "KLING_MOCK_SECRET_KEY"))
    finally:
        podman.remove_all()


def _kling_mock() -> str:
    """The `kling-mock` command of the venv running the tests (else the one on PATH)."""
    beside = Path(sys.executable).with_name("kling-mock")
    return str(beside) if beside.exists() else shutil.which("kling-mock") or "kling-mock"


def _create(http: httpx.Client, body: dict[str, Any] = SEED_EXAMPLE) -> dict[str, Any]:
    answer = http.post(CREATE_PATH, json=body)
    assert answer.status_code == 200, answer.text
    created: dict[str, Any] = answer.json()
    assert created["code"] == 0, created
    return created


# The image itself.


def test_the_image_is_configured_as_documented(podman: Podman, image: str) -> None:
    config = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["kling-mock"]
    assert config["Cmd"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert "8000/tcp" in config["ExposedPorts"]
    assert config["StopSignal"] in ("SIGTERM", "15")
    assert config["WorkingDir"] == "/data"
    assert "PYTHONUNBUFFERED=1" in config["Env"]
    healthcheck = json.loads(podman("image", "inspect", "--format", "{{json .HealthCheck}}", image).stdout)
    assert healthcheck["Test"][:2] == ["CMD", "python3"] and "/healthz" in healthcheck["Test"][-1]


def test_the_image_holds_no_compiler_pip_or_cache(podman: Podman, image: str) -> None:
    script = (
        "import importlib.util, shutil, sys; "
        "print([m for m in ('pip', 'setuptools') if importlib.util.find_spec(m)], "
        "[t for t in ('gcc', 'cc', 'curl') if shutil.which(t)], sys.version_info[:2])"
    )
    result = podman("run", "--rm", *LIMITS, "--entrypoint", "python3", image, "-c", script)
    assert result.stdout.strip() == "[] [] (3, 11)"
    wheelhouse = podman("run", "--rm", *LIMITS, "--entrypoint", "sh", image, "-c", "ls /tmp; ls -d /root/.cache || :")
    assert wheelhouse.stdout.strip() == "", wheelhouse.stdout


# `docker run -p 8000:8000 IMAGE`, with podman.


def test_the_default_command_answers_the_seed_example_from_the_host(podman: Podman, image: str) -> None:
    mock = podman.start(image)
    with mock.client() as http:
        created = _create(http)
        task_id = created["data"]["task_id"]
        assert len(task_id) == 22 and created["data"]["task_status"] == "submitted"
        queried = http.get(f"{CREATE_PATH}/{task_id}").json()
        assert queried["code"] == 0 and queried["data"]["task_id"] == task_id
        invalid = http.post(CREATE_PATH, json={"input": {"video_id": "v1", "mode": "text2video"}}).json()
        assert invalid["code"] == 1201 and "input.text" in invalid["message"]
        assert http.get("/healthz").json() == {"status": "ok"}
    logs = mock.logs()
    assert LISTENING in logs
    # The access log reaches `podman logs` at once (PYTHONUNBUFFERED): one JSON line per request.
    assert f'"request_id":"{created["request_id"]}"' in logs
    assert "Authorization" not in logs and "any-token" not in logs
    # As the image's fixed user, not root.
    assert podman("exec", mock.name, "id", "-u").stdout.strip() == UID
    assert podman("exec", mock.name, "id", "-g").stdout.strip() == UID
    assert podman("exec", mock.name, "stat", "-c", "%u", "/data").stdout.strip() == UID


def _lip_sync_flow(http: httpx.Client) -> dict[str, Any]:
    """identify-face on Kling's own path, advanced lip-sync with the first face, polled until it has its video."""
    identified = http.post("/v1/videos/identify-face", json={"video_url": "https://example.com/talk.mp4"}).json()
    assert identified["code"] == 0, identified
    session, face = identified["data"]["session_id"], identified["data"]["face_data"][0]
    choice = {
        "face_id": face["face_id"],
        "sound_file": "https://example.com/voice-6s.mp3",
        "sound_start_time": 0,
        "sound_end_time": 3000,
        "sound_insert_time": face["start_time"],
    }
    created = http.post("/v1/videos/advanced-lip-sync", json={"session_id": session, "face_choose": [choice]}).json()
    assert created["code"] == 0, created
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task: dict[str, Any] = http.get(f"/v1/videos/advanced-lip-sync/{created['data']['task_id']}").json()["data"]
        if task["task_status"] == "succeed":
            return {"face": face, "video": task["task_result"]["videos"][0]}
        assert task["task_status"] in ("submitted", "processing"), task
        time.sleep(0.5)
    raise AssertionError("the lip-sync task did not finish within 30 s")


def test_results_download_from_the_host_at_the_address_it_used(podman: Podman, image: str) -> None:
    """The links in answers are made from the address each request came to: the port the host published."""
    mock = podman.start(image)
    with mock.client() as http:
        found = _lip_sync_flow(http)
        face_image, video = found["face"]["face_image"], found["video"]
        assert face_image.startswith(mock.base_url + "/") and video["url"].startswith(mock.base_url + "/")
        with httpx.Client(timeout=10) as anonymous:  # a download needs no Authorization: the URL is the permission
            png, mp4 = anonymous.get(face_image), anonymous.get(video["url"])
        assert (png.status_code, png.headers["content-type"], png.content[:8]) == (
            200,
            "image/png",
            b"\x89PNG\r\n\x1a\n",
        )
        assert (mp4.status_code, mp4.headers["content-type"], mp4.content[4:8]) == (200, "video/mp4", b"ftyp")


def test_public_url_is_where_results_point(podman: Podman, image: str) -> None:
    """Behind a proxy the mock cannot see the address clients use: `--public-url` gives it."""
    mock = podman.start(
        image, "serve", "--host", "0.0.0.0", "--port", "8000", "--public-url", "https://kling.test/base"
    )
    with mock.client() as http:
        found = _lip_sync_flow(http)
        for url in (found["face"]["face_image"], found["video"]["url"]):
            assert url.startswith("https://kling.test/base/"), url
            # The same file is served at the path after the public URL's.
            local = http.get(url.removeprefix("https://kling.test/base"))
            assert local.status_code == 200, url


def test_the_health_check_passes_and_fails_with_the_mock(podman: Podman, image: str) -> None:
    mock = podman.start(image)
    assert podman("healthcheck", "run", mock.name, check=False).returncode == 0
    # Serving on another port, the check needs to be told where.
    elsewhere = podman.start(image, "serve", "--host", "0.0.0.0", "--port", "8001", publish=False)
    assert podman("healthcheck", "run", elsewhere.name, check=False).returncode != 0
    # KLING_MOCK_HEALTHCHECK_URL tells it: see test_two_mocks_share_one_redis.


# Keys from the environment, and the contract suite.


def test_keys_and_kling_jwts_come_from_the_environment(keyed_mock: Container) -> None:
    now = int(time.time())
    claims = {"iss": ACCESS_KEY, "exp": now + 600, "nbf": now - 5}
    with keyed_mock.client(KEY) as http:
        _create(http)
    with keyed_mock.client(jwt.encode(claims, SECRET_KEY, algorithm="HS256")) as http:
        _create(http)
    for refused in ("not-a-key", jwt.encode(claims, "another-secret-of-32-bytes-or-more", algorithm="HS256")):
        with keyed_mock.client(refused) as http:
            answer = http.post(CREATE_PATH, json=SEED_EXAMPLE)
            assert (answer.status_code, answer.json()["code"]) == (401, 1000)


def test_the_contract_suite_passes_against_the_container(keyed_mock: Container, tmp_path: Path) -> None:
    """`kling-mock contract` from the host's venv, as a team's CI would run it against the container."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("KLING_", "PYTEST_"))}
    env.update({"KLING_API_KEY": KEY, "KLING_API_KEY_2": SECOND_KEY})
    command = [_kling_mock(), "contract", "--base-url", keyed_mock.base_url, "--max-examples", "5"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert re.search(r"=+ \d+ passed", result.stdout), result.stdout[-4000:]


def test_the_contract_suite_runs_inside_the_image(podman: Podman, keyed_mock: Container, image: str) -> None:
    """The image's own `contract` (pytest, schemathesis, hypothesis inside it), sharing the mock's network."""
    result = podman(
        "run",
        "--rm",
        *LIMITS,
        "--network",
        f"container:{keyed_mock.name}",
        "--env",
        f"KLING_API_KEY={KEY}",
        "--env",
        f"KLING_API_KEY_2={SECOND_KEY}",
        image,
        "contract",
        "--base-url",
        "http://127.0.0.1:8000",
        "--max-examples",
        "3",
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert re.search(r"=+ \d+ passed", result.stdout), result.stdout[-4000:]


# Other commands of the image.


@pytest.mark.parametrize("command", ["contract", "verify", "proxy"])
def test_every_command_is_reachable(podman: Podman, image: str, command: str) -> None:
    result = podman("run", "--rm", *LIMITS, image, command, "--help")
    assert result.stdout.startswith(f"usage: kling-mock {command}")


def test_verify_from_the_image_judges_a_mock_with_an_admin_token(podman: Podman, image: str) -> None:
    token = secrets.token_urlsafe(16)
    refused = podman("run", "--rm", *LIMITS, image, "serve", "--host", "0.0.0.0", "--admin", check=False)
    assert refused.returncode == 2 and "needs --admin-token" in refused.stderr
    options = ("--env", f"KLING_MOCK_ADMIN_TOKEN={token}")
    mock = podman.start(image, "serve", "--host", "0.0.0.0", "--port", "8000", "--admin", options=options)
    with mock.client() as http:
        _create(http)
        http.post(CREATE_PATH, json={"input": {"video_id": "v1", "mode": "text2video"}})
        assert http.get("/__admin/journal").status_code == 401
    report = podman(
        "run",
        "--rm",
        *LIMITS,
        "--network",
        f"container:{mock.name}",
        *options,
        image,
        "verify",
        "--base-url",
        "http://127.0.0.1:8000",
        check=False,
    )
    assert report.returncode == 1, report.stdout + report.stderr
    assert "input.text" in report.stdout


# State on a volume, and SIGTERM.


def test_sigterm_is_clean_and_tasks_survive_a_restart_on_a_named_volume(podman: Podman, image: str) -> None:
    volume = podman.volume()
    state = ("serve", "--host", "0.0.0.0", "--port", "8000", "--state", "/data/state.db")
    mock = podman.start(image, *state, options=("--volume", f"{volume}:/data"))
    with mock.client() as http:
        task_ids = [_create(http)["data"]["task_id"] for _ in range(20)]
    # At once after the last answer: each create was committed before it was answered.
    exit_code, elapsed = mock.stop()
    assert exit_code == 0, mock.logs()
    assert elapsed < CLEAN_STOP_SECONDS, f"took {elapsed:.1f} s: SIGTERM was not handled"
    assert "Finished server process" in mock.logs()

    again = podman.start(image, *state, options=("--volume", f"{volume}:/data"))
    with again.client() as http:
        for task_id in task_ids:
            queried = http.get(f"{CREATE_PATH}/{task_id}").json()
            assert queried["code"] == 0 and queried["data"]["task_id"] == task_id
        listed = http.get(CREATE_PATH, params={"pageNum": 1, "pageSize": 50}).json()["data"]
        assert {task["task_id"] for task in listed} == set(task_ids)
    owners = podman("exec", again.name, "stat", "-c", "%u", "/data", "/data/state.db").stdout.split()
    assert owners == [UID, UID]


def test_a_bind_mounted_folder_needs_the_uid(podman: Podman, image: str, tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o755)
    state = ("serve", "--host", "0.0.0.0", "--state", "/data/state.db")
    result = podman("run", "--rm", *LIMITS, "--volume", f"{folder}:/data", image, *state, check=False)
    assert result.returncode == 2 and "cannot use /data/state.db as the state file" in result.stderr
    if os.geteuid() != 0:
        pytest.skip("giving the folder to UID 10001 needs root")
    os.chown(folder, int(UID), int(UID))
    mock = podman.start(image, *state, options=("--volume", f"{folder}:/data"))
    with mock.client() as http:
        _create(http)
    assert mock.stop()[0] == 0
    assert (folder / "state.db").stat().st_uid == int(UID)


# Scaling out: two mocks on one Redis, as the compose example runs them.


def test_two_mocks_share_one_redis(podman: Podman, image: str, tmp_path: Path) -> None:
    executable = redis_server_executable()
    with RedisServer(executable, tmp_path) as redis_server:
        redis_server.start()
        mocks: list[tuple[Container, str]] = []
        for _ in range(2):
            # On the host's network, to reach the Redis on its loopback: each mock on a port of its own.
            port = free_loopback_port()
            health = ("--env", f"KLING_MOCK_HEALTHCHECK_URL=http://127.0.0.1:{port}/healthz")
            serve = ("serve", "--host", "127.0.0.1", "--port", str(port), "--store", redis_server.url)
            mock = podman.start(image, *serve, publish=False, options=("--network", "host", *health))
            mocks.append((mock, f"http://127.0.0.1:{port}"))
        (first, first_url), (second, second_url) = mocks
        with httpx.Client(headers={"Authorization": "Bearer shared-caller"}, timeout=10) as http:
            created = http.post(first_url + CREATE_PATH, json=SEED_EXAMPLE).json()
            task_id = created["data"]["task_id"]
            queried = http.get(f"{second_url}{CREATE_PATH}/{task_id}").json()
            assert queried["code"] == 0 and queried["data"]["task_id"] == task_id
        for mock in (first, second):
            assert podman("healthcheck", "run", mock.name, check=False).returncode == 0
