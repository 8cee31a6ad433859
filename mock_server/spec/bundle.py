"""Make an OpenAPI document self-contained: components and path items other files hold are copied in.

The specs reference each other instead of copying: the dialects share the documented spec's components
(`identify-face.yaml#/components/...`), and every dialect serves the lip-sync paths of `lip-sync.yaml`
(`lip-sync.yaml#/paths/...`). The mock compiles schemas against one document, schemathesis is given one, and
`/openapi.yaml` must stand alone, so each referenced component is copied into the document under its own name,
each referenced path item in place, and every reference made local (`#/components/...`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml


class SpecBundleError(ValueError):
    """A reference the bundler cannot make local: not to a component, or to a name already taken."""


def bundle(document: dict[str, Any], path: Path) -> tuple[dict[str, Any], bool]:
    """The document read from `path`, self-contained, and whether anything was copied into it."""
    bundler = _Bundler(path, document)
    paths = {route: bundler.inlined(item) for route, item in (document.get("paths") or {}).items()}
    bundled = bundler.rewrite({**document, "paths": paths} if paths else document, bundler.root)
    if bundled == document:
        return document, False
    components = bundled.setdefault("components", {})
    for (kind, name), content in bundler.copies.items():
        section = components.setdefault(kind, {})
        # A local entry that only points at the component it is named after (`bearerAuth: {$ref: ...}`)
        # becomes the component itself; one that is the same component is no conflict either.
        if name in section and section[name] not in ({"$ref": f"#/components/{kind}/{name}"}, content):
            raise SpecBundleError(f"{path}: components.{kind}.{name} is defined here and copied from another file")
        section[name] = content
    return bundled, True


def dump(document: dict[str, Any]) -> str:
    """The document as YAML for people: keys in their order, multi-line text as blocks, no anchors."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


class _Bundler:
    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.root = path.resolve()
        self.files: dict[Path, dict[str, Any]] = {self.root: document}
        # (file, pointer) of each component copied, with its local (kind, name).
        self.imported: dict[tuple[Path, str], tuple[str, str]] = {}
        self.copies: dict[tuple[str, str], Any] = {}

    def rewrite(self, node: Any, source: Path) -> Any:
        """A copy of `node`, read from `source`, with every reference made local to the bundled document."""
        if isinstance(node, list):
            return [self.rewrite(item, source) for item in node]
        if not isinstance(node, dict):
            return node
        copy = {key: self.rewrite(value, source) for key, value in node.items()}
        if isinstance(node.get("$ref"), str):
            copy["$ref"] = self._local_ref(node["$ref"], source)
        return copy

    def inlined(self, item: Any) -> Any:
        """A path item of the root document, or, when it only references another file's, that one's."""
        if isinstance(item, dict) and set(item) == {"$ref"}:
            return self.path_item(item["$ref"], self.root)
        return item

    def path_item(self, ref: str, source: Path) -> Any:
        """The path item `ref` names in another file (`other.yaml#/paths/~1v1~1...`), its references made local."""
        location, _, pointer = ref.partition("#")
        target = (source.parent / location).resolve() if location else source
        parts = pointer.split("/")
        if target == self.root or len(parts) != 3 or parts[:2] != ["", "paths"]:
            raise SpecBundleError(f"{ref} (in {source.name}): a path item can only be another file's path")
        route = unquote(parts[2]).replace("~1", "/").replace("~0", "~")
        try:
            item = self._load(target)["paths"][route]
        except (KeyError, TypeError):
            raise SpecBundleError(f"{ref} (in {source.name}): no such path") from None
        return self.rewrite(item, target)

    def _local_ref(self, ref: str, source: Path) -> str:
        location, _, pointer = ref.partition("#")
        target = (source.parent / location).resolve() if location else source
        if target == self.root:
            return f"#{pointer}"
        key = (target, pointer)
        if key not in self.imported:
            parts = pointer.split("/")
            if len(parts) != 4 or parts[:2] != ["", "components"]:
                raise SpecBundleError(f"{ref} (in {source.name}): only components can be referenced in another file")
            kind, name = parts[2], parts[3]
            if (kind, name) in self.copies:
                raise SpecBundleError(f"{ref} (in {source.name}): components.{kind}.{name} is copied from two files")
            self.imported[key] = (kind, name)
            self.copies[(kind, name)] = None  # claimed first, so that a component referring to itself ends
            try:
                content = self._load(target)["components"][kind][name]
            except (KeyError, TypeError):
                raise SpecBundleError(f"{ref} (in {source.name}): no such component") from None
            self.copies[(kind, name)] = self.rewrite(content, target)
        kind, name = self.imported[key]
        return f"#/components/{kind}/{name}"

    def _load(self, path: Path) -> dict[str, Any]:
        """Each file read once, however many references it is the target of."""
        if path not in self.files:
            try:
                self.files[path] = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise SpecBundleError(f"{path}: cannot read it ({exc.strerror})") from None
        return self.files[path]


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)
