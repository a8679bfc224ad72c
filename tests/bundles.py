"""Writing module bundles on disk for tests: real folders in the test's temporary directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypedDict


class BundleOptions(TypedDict, total=False):
    """write_bundle's keyword arguments, for helpers that pass them on."""

    application: str | None
    depends: Sequence[str]
    uses: Sequence[str]
    platform: str | None
    config: Mapping[str, str] | None
    files: Mapping[str, str] | None
    code: str | None


def write_bundle(
    root: Path,
    name: str,
    *,
    application: str | None = None,
    depends: Sequence[str] = (),
    uses: Sequence[str] = (),
    platform: str | None = None,
    config: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    code: str | None = None,
) -> Path:
    """A bundle folder ``root/name`` with a module.toml and some content; returns its path."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f'name = "{name}"']
    if application:
        lines.append(f'application = "{application}"')
    if platform:
        lines.append(f'platform = "{platform}"')
    if uses:
        lines.append("uses = [" + ", ".join(f'"{u}"' for u in uses) + "]")
    if depends:
        lines.append("depends = [" + ", ".join(f'"{d}"' for d in depends) + "]")
    if config:
        lines.append("[config]")
        lines += [f'{key} = "{value}"' for key, value in config.items()]
    (folder / "module.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    content = dict(files or {})
    content.setdefault("src/main.py", code if code is not None else f"NAME = {name!r}\n\ndef run():\n    return NAME\n")
    content.setdefault("static/index.html", f"<h1>{name}</h1>\n")
    for relative, text in content.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def write_raw_zip(path: Path, entries: Mapping[str, bytes]) -> Path:
    """A zip holding exactly these member names, even those ``zipfile`` would cut at a NUL."""
    import zipfile

    with zipfile.ZipFile(path, "w") as writer:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.filename = name  # ZipInfo() cut it at its first NUL; the zip must hold it whole
            writer.writestr(info, data)
    return path
