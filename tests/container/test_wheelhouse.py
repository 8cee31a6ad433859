"""tools/wheelhouse.py: which requirements it still downloads once pip has, for the image's Python, not this one.

pip evaluates markers for the Python that runs it; the image's may be another 3.11 release (Debian bookworm's is
3.11.2). Here, fake wheels (their metadata only) stand in for a download.
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import ROOT


@pytest.fixture(scope="module")
def wheelhouse() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "tools" / "wheelhouse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(folder: Path, name: str, version: str, *requires: str) -> None:
    distribution = name.replace("-", "_")
    metadata = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"]
    metadata += [f"Requires-Dist: {requirement}" for requirement in requires]
    with zipfile.ZipFile(folder / f"{distribution}-{version}-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{distribution}-{version}.dist-info/METADATA", "\n".join(metadata) + "\n")


def _missing(wheelhouse: ModuleType, folder: Path) -> list[str]:
    missing: list[str] = wheelhouse._missing(wheelhouse._wheels(folder), "3.11", "x86_64")
    return sorted(missing)


def test_what_an_earlier_release_of_the_python_needs_is_added(wheelhouse: ModuleType, tmp_path: Path) -> None:
    _wheel(tmp_path, "kling-mock", "0.1.0", "redis>=5", "uvicorn[standard]>=0.34")
    _wheel(tmp_path, "redis", "8.1.0", "async-timeout>=4.0.3; python_full_version < '3.11.3'", "hiredis; extra == 'x'")
    _wheel(
        tmp_path,
        "uvicorn",
        "0.55.0",
        "h11>=0.8",
        "uvloop>=0.15.1; sys_platform != 'win32' and extra == 'standard'",
        "colorama>=0.4; sys_platform == 'win32' and extra == 'standard'",
        "typing-extensions>=4; python_version < '3.12'",
        "tomli; python_version < '3.11'",
    )
    _wheel(tmp_path, "h11", "0.16.0")
    assert _missing(wheelhouse, tmp_path) == ["async-timeout>=4.0.3", "typing-extensions>=4", "uvloop>=0.15.1"]


def test_nothing_is_missing_once_every_needed_wheel_is_there(wheelhouse: ModuleType, tmp_path: Path) -> None:
    _wheel(tmp_path, "kling-mock", "0.1.0", "redis>=5")
    _wheel(tmp_path, "redis", "8.1.0", "async-timeout>=4.0.3; python_full_version < '3.11.3'")
    _wheel(tmp_path, "async-timeout", "5.0.1")
    assert _missing(wheelhouse, tmp_path) == []


def test_extras_asked_of_a_dependency_are_followed(wheelhouse: ModuleType, tmp_path: Path) -> None:
    _wheel(tmp_path, "kling-mock", "0.1.0", "httpx[http2]>=0.27")
    _wheel(tmp_path, "httpx", "0.29.0", "h2<5,>=3; extra == 'http2'", "brotli; extra == 'brotli'")
    assert _missing(wheelhouse, tmp_path) == ["h2<5,>=3"]


def test_the_download_asks_for_the_images_tags_only(wheelhouse: ModuleType, tmp_path: Path) -> None:
    command: list[str] = wheelhouse._download_command(tmp_path, "3.11", "x86_64", "2.36")
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("--abi") + 1] == "cp311"
    assert "--only-binary=:all:" in command
    platforms = {command[i + 1] for i, part in enumerate(command) if part == "--platform"}
    assert {"manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "manylinux_2_36_x86_64", "manylinux2014_x86_64"} <= (
        platforms
    )
    assert "manylinux_2_37_x86_64" not in platforms and not any("aarch64" in platform for platform in platforms)
