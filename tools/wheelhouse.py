"""Make the wheelhouse the container image installs from, with no index: `make wheelhouse` runs it.

    python tools/wheelhouse.py DEST [--python 3.11] [--arch x86_64] [--glibc 2.36]

DEST ends up holding the kit's wheel (built from this checkout) and a binary wheel of each of its dependencies for
the image's Python: CPython `--python` on manylinux `--arch` with a glibc up to `--glibc` (bookworm's 2.36, the
oldest of the bases). Whatever Python runs this script, and with pip's settings as they are on this machine (its
index, certificates, constraints): the image's build then needs none of them.

pip picks wheels for the target's tags, but it evaluates environment markers for the Python that runs it: a
dependency only some 3.11 releases need (redis needs `async-timeout; python_full_version < "3.11.3"`, and Debian
bookworm's python3 is 3.11.2) would be missing whenever this machine's Python is a later release. So after pip's
download, each wheel's requirements are read again, with the extras asked of it, and any that applies to some
release of the target's minor version (3.11.0 to 3.11.30) but has no wheel yet is downloaded too, until nothing is
missing. The wheelhouse may then hold a few wheels a given base does not install: its pip, in the image, takes
only what its own Python needs.

An sdist-only dependency makes the download fail (binary wheels only, so no compiler in the image): pip names it.
"""

from __future__ import annotations

import argparse
import email.parser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
KIT = canonicalize_name("kling-mock")
# Releases of the target's minor version whose markers count: every 3.11.N there is or will be, near enough.
PATCH_RELEASES = range(31)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="the wheelhouse folder; emptied first")
    parser.add_argument("--python", default="3.11", help="the image's Python, MAJOR.MINOR (default 3.11)")
    parser.add_argument("--arch", default="x86_64", help="the image's machine, as manylinux names it (default x86_64)")
    parser.add_argument("--glibc", default="2.36", help="the oldest glibc among the bases (default 2.36, bookworm's)")
    args = parser.parse_args(argv)

    if args.dest.exists():
        shutil.rmtree(args.dest)
    args.dest.mkdir(parents=True)
    _pip("wheel", "--no-deps", "--wheel-dir", str(args.dest), str(ROOT))
    kit_wheel = _wheels(args.dest)[KIT]
    download = _download_command(args.dest, args.python, args.arch, args.glibc)

    wanted: list[str] = [str(kit_wheel)]
    while wanted:
        _pip("download", *download, *wanted)
        still_missing = _missing(_wheels(args.dest), args.python, args.arch)
        if still_missing == wanted:
            print(f"wheelhouse: pip downloaded no wheel of {', '.join(wanted)}", file=sys.stderr)
            return 1
        wanted = still_missing
    print(f"{args.dest}: {len(_wheels(args.dest))} wheels for CPython {args.python} on manylinux {args.arch}")
    return 0


def _pip(subcommand: str, *args: str) -> None:
    command = [sys.executable, "-m", "pip", subcommand, "--quiet", "--disable-pip-version-check", *args]
    subprocess.run(command, check=True)


def _download_command(dest: Path, python: str, arch: str, glibc: str) -> list[str]:
    """`pip download`'s options for the image's binary wheels; pip does not widen manylinux_2_N tags by itself."""
    major, minor = (int(part) for part in glibc.split("."))
    platforms = [f"manylinux_{major}_{n}_{arch}" for n in range(5, minor + 1)]
    platforms += [f"manylinux{legacy}_{arch}" for legacy in ("2014", "2010", "1")]
    command = ["--dest", str(dest), "--only-binary=:all:", "--implementation", "cp"]
    command += ["--python-version", python, "--abi", "cp" + python.replace(".", "")]
    for platform in platforms:
        command += ["--platform", platform]
    return command


def _wheels(folder: Path) -> dict[NormalizedName, Path]:
    wheels: dict[NormalizedName, Path] = {}
    for path in sorted(folder.glob("*.whl")):
        wheels[parse_wheel_filename(path.name)[0]] = path
    return wheels


def _requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        metadata_path = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        metadata = email.parser.BytesParser().parsebytes(archive.read(metadata_path), headersonly=True)
    return [Requirement(text) for text in metadata.get_all("Requires-Dist") or []]


def _applies(requirement: Requirement, extras: set[str], python: str, arch: str) -> bool:
    """Whether some release of the target's Python, on Linux `arch`, needs it (with one of `extras` asked)."""
    if requirement.marker is None:
        return True
    for patch in PATCH_RELEASES:
        environment = {
            "implementation_name": "cpython",
            "implementation_version": f"{python}.{patch}",
            "os_name": "posix",
            "platform_machine": arch,
            "platform_python_implementation": "CPython",
            "platform_system": "Linux",
            "python_full_version": f"{python}.{patch}",
            "python_version": python,
            "sys_platform": "linux",
        }
        for extra in {"", *extras}:
            if requirement.marker.evaluate({**environment, "extra": extra}):
                return True
    return False


def _missing(wheels: dict[NormalizedName, Path], python: str, arch: str) -> list[str]:
    """Requirements some release of the target needs that have no wheel: the kit's, and its dependencies', down."""
    extras_asked: dict[NormalizedName, set[str]] = {KIT: set()}
    missing: dict[NormalizedName, Requirement] = {}
    queue = [KIT]
    while queue:
        name = queue.pop()
        for requirement in _requirements(wheels[name]):
            if not _applies(requirement, extras_asked[name], python, arch):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in wheels:
                missing.setdefault(dependency, requirement)
                continue
            known = extras_asked.get(dependency)
            if known is None or not set(requirement.extras) <= known:
                extras_asked[dependency] = (known or set()) | set(requirement.extras)
                queue.append(dependency)
    wanted = []
    for requirement in missing.values():
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        wanted.append(f"{requirement.name}{extras}{requirement.specifier}")
    return wanted


if __name__ == "__main__":
    sys.exit(main())
