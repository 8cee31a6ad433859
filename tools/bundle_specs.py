"""Write each spec the mock serves as it serves it (bundled: self-contained), for linters that read one file.

Spectral's OpenAPI 3.1 schema check refuses a path item that is only a `$ref` to another file's (which OpenAPI 3.1
allows, and the specs use to share the lip-sync paths); the bundled documents, which `/openapi.yaml` serves, have
none. `make spec-lint` lints the sources with openapi-spec-validator and these with Spectral.

Usage: python tools/bundle_specs.py OUTDIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from mock_server.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SERVED = ("identify-face.yaml", "identify-face-upstream.yaml", "identify-face-by-body.yaml")


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for name in SERVED:
        (outdir / name).write_text(load_spec(ROOT / "openapi" / name).text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
