"""The URLs of results (face images, videos): downloadable from the mock itself, and a permission by themselves.

Clients download what an answer points at without the API's Authorization header, as from Kling's CDN
(docs/contract.md, "What real clients rely on"). So each URL carries a part only its owner can know: a signature
of its path keyed by the owner's digest (a digest of the token that created it, which no other caller has). A
guessed or altered URL, or another caller's with its ids swapped, does not verify and is 404. The URLs start
with the address the client reached the mock by (`Links.base`), or `--public-url`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

# Where the files are served, under each path prefix (`/files/...`, `/kling/files/...`).
FILES = "/files"
_FILE = re.compile(
    r"/files/(?P<kind>faces|videos|parents)/(?P<id>[A-Za-z0-9_-]{1,64})(?:/(?P<face>[A-Za-z0-9_-]{1,16}))?"
    r"/(?P<sig>[A-Za-z0-9_-]{22})(?P<watermark>-watermark)?\.(?P<ext>png|mp4)"
)
_EXTENSIONS = {"faces": "png", "videos": "mp4", "parents": "mp4"}


@dataclass(frozen=True)
class FileRef:
    """What a file URL names: a face of a session, a task's result video, or the video a session was made of."""

    kind: str
    id: str
    face: str | None = None
    watermark: bool = False

    @property
    def path(self) -> str:
        face = f"/{self.face}" if self.face is not None else ""
        return f"{FILES}/{self.kind}/{self.id}{face}"


@dataclass(frozen=True)
class Links:
    """The URLs an answer holds, for the client that asked: starting with `base` (scheme, host, port, and the path
    prefix it used)."""

    base: str

    def face_image(self, owner: str, session_id: str, face_id: str) -> str:
        return self._url(owner, FileRef("faces", session_id, face_id))

    def video(self, owner: str, task_id: str, watermark: bool = False) -> str:
        return self._url(owner, FileRef("videos", task_id, watermark=watermark))

    def parent_video(self, owner: str, session_id: str) -> str:
        return self._url(owner, FileRef("parents", session_id))

    def _url(self, owner: str, ref: FileRef) -> str:
        suffix = "-watermark" if ref.watermark else ""
        return f"{self.base}{ref.path}/{signature(owner, ref)}{suffix}.{_EXTENSIONS[ref.kind]}"


def signature(owner: str, ref: FileRef) -> str:
    """22 characters no one but `owner`'s holder can make for this file (the watermarked video shares it)."""
    digest = hmac.new(owner.encode(), ref.path.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode()[:22]


def parse(path: str) -> tuple[FileRef, str] | None:
    """The file a path (after its prefix) names, and the signature it carries; None for no file of the mock's."""
    match = _FILE.fullmatch(path)
    if match is None or (match["kind"] == "faces") != (match["face"] is not None):
        return None
    if match["ext"] != _EXTENSIONS[match["kind"]] or (match["watermark"] and match["kind"] != "videos"):
        return None
    ref = FileRef(match["kind"], match["id"], match["face"], bool(match["watermark"]))
    return ref, match["sig"]


def verifies(owner: str, ref: FileRef, presented: str) -> bool:
    return hmac.compare_digest(signature(owner, ref), presented)
