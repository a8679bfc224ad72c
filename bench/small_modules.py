"""Small synthetic modules: three content files of 0.5-6 KB, a short module.toml, applications of 25.

The shape of issue 14's measurement (a fixed cost per module shows best when the bytes are few):
inside an application each module may consume up to two earlier ones. Deterministic for a seed.
Nothing here fails to compile on 11.19.0, so every module is deployed.
"""

from __future__ import annotations

import random
from pathlib import Path

APPLICATION_SIZE = 25
WORDS = ["def", "return", "self", "value", "module", "color", "margin", "=", ":"]


def module_name(index: int) -> str:
    return f"S{index:06d}"


def generate(root: Path, count: int, seed: int = 7) -> list[Path]:
    """Write ``count`` bundle folders under ``root`` (reused when already complete)."""
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
    (folder / "module.toml").write_text(
        f'name = "{module_name(index)}"\napplication = "A{app_index:05d}"\n'
        "depends = [" + ", ".join(f'"{d}"' for d in depends) + "]\n",
        encoding="utf-8",
    )
    for name in ("main.py", "view.py", "style.css"):
        size = rng.randint(512, 6144)
        lead, tail = ("# ", "\n") if name.endswith(".py") else ("/* ", " */\n")
        text = ""
        while len(text) < size:
            text += lead + " ".join(rng.choice(WORDS) for _ in range(10)) + tail
        (folder / "src" / name).write_text(text[:size].rsplit("\n", 1)[0] + "\n", encoding="utf-8")
