"""Small synthetic modules: three content files of 0.5-6 KB, a short ``module.toml``.

The content is written as ``bench/ssh_deploy_all.py`` writes it (two Python files of comments and
a stylesheet); the manifests add what ``bench/modules.py`` gives its bigger modules: applications
(of 25 here) in which each module may consume up to two earlier ones, so that Deploy All has real
producer chains to order. Every module compiles for 11.18.1 and 11.19.0 alike.
"""

from __future__ import annotations

import random
from pathlib import Path

APPLICATION_SIZE = 25
CONTENT_FILES = ("main.py", "view.py", "style.css")
WORDS = ["def", "return", "self", "value", "module", "color", "margin", "=", ":"]


def module_name(index: int) -> str:
    return f"Mod{index:06d}"


def generate(root: Path, count: int, seed: int = 7) -> list[Path]:
    """Write ``count`` bundle folders under ``root``; reused when a complete set is already there."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".complete-{count}-{seed}"
    bundles = [root / module_name(i) for i in range(count)]
    if marker.exists():
        return bundles
    rng = random.Random(seed)
    for index, folder in enumerate(bundles):
        _write_module(folder, index, rng)
    marker.write_text("done\n")
    return bundles


def _write_module(folder: Path, index: int, rng: random.Random) -> None:
    app_index, position = divmod(index, APPLICATION_SIZE)
    first = app_index * APPLICATION_SIZE
    picks = range(rng.randint(0, 2)) if position else range(0)
    depends = sorted({module_name(rng.randrange(first, index)) for _ in picks})
    (folder / "src").mkdir(parents=True, exist_ok=True)
    manifest = [f'name = "{module_name(index)}"', f'application = "App{app_index:05d}"']
    if depends:
        manifest.append("depends = [" + ", ".join(f'"{d}"' for d in depends) + "]")
    (folder / "module.toml").write_text("\n".join(manifest) + "\n")
    for name in CONTENT_FILES:
        (folder / "src" / name).write_text(_text(rng, rng.randint(512, 6144), name.endswith(".py")))


def _text(rng: random.Random, size: int, python: bool) -> str:
    lead, tail = ("# ", "\n") if python else ("/* ", " */\n")
    text = ""
    while len(text) < size:
        text += lead + " ".join(rng.choice(WORDS) for _ in range(10)) + tail
    return text[:size].rsplit("\n", 1)[0] + "\n"
