"""Synthetic module sets for the benchmarks: real bundle folders, deterministic for a given size.

Each module has five small ``.py`` files and one stylesheet (about 47 KB in all, like the
measurements the targets were set against). Modules come in applications of 20; inside an
application each module may consume one or two earlier ones, so the executor has real producer
chains to order. One module in 200 uses ``soap.legacy``, which 11.19.0 removed: it compiles for
11.18.1 but fails after the upgrade, and its consumers fail with it ("producer failed").
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

APPLICATION_SIZE = 20
LEGACY_EVERY = 200  # one module in this many uses the capability removed in 11.19.0
PY_FILES = 5
PY_BYTES = 4_000
CSS_BYTES = 27_000


@dataclass(frozen=True)
class ModuleSet:
    root: Path
    bundles: tuple[Path, ...]
    legacy: int  # modules that use soap.legacy

    @property
    def size(self) -> int:
        return len(self.bundles)


def module_name(index: int) -> str:
    return f"M{index:06d}"


def generate(root: Path, count: int, seed: int = 7) -> ModuleSet:
    """Write ``count`` bundle folders under ``root`` (reused when already complete)."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".complete-{count}-{seed}"
    bundles = tuple(root / module_name(i) for i in range(count))
    legacy = sum(1 for i in range(count) if _uses_legacy(i))
    if marker.exists():
        return ModuleSet(root, bundles, legacy)
    rng = random.Random(seed)
    for index, folder in enumerate(bundles):
        _write_module(folder, index, rng)
    marker.write_text("done\n")
    return ModuleSet(root, bundles, legacy)


def _uses_legacy(index: int) -> bool:
    return index % LEGACY_EVERY == LEGACY_EVERY // 2


@dataclass(frozen=True)
class ModuleSpec:
    """What one synthetic module declares."""

    index: int
    name: str
    application: str
    depends: tuple[str, ...]
    uses: tuple[str, ...]

    @property
    def legacy(self) -> bool:
        return "soap.legacy" in self.uses


def module_spec(index: int, rng: random.Random) -> ModuleSpec:
    """The manifest of module ``index``; consumes ``rng`` the same way for files and for rows."""
    app_index, position = divmod(index, APPLICATION_SIZE)
    first_in_app = app_index * APPLICATION_SIZE
    picks = range(rng.randint(0, 2)) if position else range(0)
    depends = sorted({module_name(rng.randrange(first_in_app, index)) for _ in picks})
    uses = ("http.v2", "sql.core") + (("soap.legacy",) if _uses_legacy(index) else ())
    return ModuleSpec(index, module_name(index), f"App{app_index:05d}", tuple(depends), uses)


def _write_module(folder: Path, index: int, rng: random.Random) -> None:
    spec = module_spec(index, rng)
    lines = [
        f'name = "{spec.name}"',
        f'application = "{spec.application}"',
        f'description = "Synthetic module {index}"',
        'platform = ">=11.18"',
        "uses = [" + ", ".join(f'"{u}"' for u in spec.uses) + "]",
        "depends = [" + ", ".join(f'"{d}"' for d in spec.depends) + "]",
        "[config]",
        f'MaxRows = "{100 + index % 50}"',
    ]
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "static").mkdir(exist_ok=True)
    (folder / "module.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for number in range(PY_FILES):
        (folder / "src" / f"part{number}.py").write_text(_python_source(spec.name, number, rng), encoding="utf-8")
    (folder / "static" / "style.css").write_text(_stylesheet(rng), encoding="utf-8")


def _python_source(name: str, number: int, rng: random.Random) -> str:
    lines = [f'"""{name}, part {number}."""', "", "TABLE = {"]
    while sum(len(line) + 1 for line in lines) < PY_BYTES:
        lines.append(f"    {rng.getrandbits(40)!r}: {rng.random()!r},")
    lines += ["}", "", "", f"def part{number}(key):", "    return TABLE.get(key, 0.0)", ""]
    return "\n".join(lines)


def _stylesheet(rng: random.Random) -> str:
    rules = []
    size = 0
    while size < CSS_BYTES:
        rule = f".c{rng.getrandbits(32):08x} {{ color: #{rng.getrandbits(24):06x}; margin: {rng.randint(0, 40)}px; }}\n"
        rules.append(rule)
        size += len(rule)
    return "".join(rules)


def folder_bytes(root: Path) -> tuple[int, int]:
    """Total size and number of files under ``root``."""
    total = files = 0
    for path in root.rglob("*"):
        if path.is_file():
            total += path.stat().st_size
            files += 1
    return total, files
