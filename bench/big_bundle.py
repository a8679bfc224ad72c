"""Peak memory and time of a bundle holding one big file, through every step, as whole commands.

    .venv/bin/python bench/big_bundle.py --size-mb 500
    .venv/bin/python bench/big_bundle.py --size-mb 500 --checkout ../older-checkout

One environment, one local front-end, and a bundle of a ``module.toml``, a small ``.py`` file and
one file of ``--size-mb`` incompressible bytes. Each step is a fresh
``python -m app --unattended ...`` process, started by a small wrapper whose only child it is, so
that the peak printed is the largest resident set of any process of that command (the command
and its worker processes), in MB:

1. ``publish`` of the bundle folder (read, source zip, compile, deploy);
2. ``upgrade --to 11.19.0`` (the stored source compiled again);
3. ``deploy-all`` (the new artifact to the front-end);
4. ``publish`` of the same bundle as a ``.zip`` (version 2);
5. ``verify`` (every live file hashed again).

The target is a peak under 200 MB at any step for any bundle up to the 512 MiB cap.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Runs a command as its only child and prints the child tree's peak resident set in kB.
PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code, file=sys.stderr)\n"
)


def write_bundle(folder: Path, size: int) -> None:
    (folder / "assets").mkdir(parents=True)
    (folder / "module.toml").write_text('name = "Media"\napplication = "Library"\n', encoding="utf-8")
    (folder / "main.py").write_text("def run():\n    return 'media'\n", encoding="utf-8")
    with (folder / "assets" / "video.bin").open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(left, 1 << 24))
            out.write(piece)
            left -= len(piece)


def zip_bundle(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


def step(checkout: Path, data: Path, *arguments: str) -> tuple[float, int, int]:
    """Wall seconds, peak MB and exit code of one whole command."""
    command = [
        sys.executable,
        "-c",
        PEAK,
        sys.executable,
        "-m",
        "app",
        "--unattended",
        *arguments,
        "--data-dir",
        str(data),
    ]
    clock = time.perf_counter()
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    peak_kb, code = done.stderr.strip().splitlines()[-1].split()
    if int(code) not in (0, 1):
        raise SystemExit(f"{arguments[0]} exited {code}: {done.stderr[-2000:]}")
    return wall, int(peak_kb) // 1024, int(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=500, help="size of the big file, in MB (10^6 bytes)")
    parser.add_argument("--checkout", type=Path, default=REPO, help="the checkout whose code runs")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="big-bundle-", dir=os.environ.get("BENCH_TMP")))
    try:
        data, front, bundle = scratch / "env", scratch / "front", scratch / "bundles" / "Media"
        write_bundle(bundle, options.size_mb * 1_000_000)
        zipped = scratch / "bundles" / "Media.zip"
        zip_bundle(bundle, zipped)
        checkout = options.checkout.resolve()
        step(checkout, data, "init", "--platform", "11.18.1", "--frontend", str(front))
        figures = {}
        for label, arguments in (
            ("publish folder", ("publish", str(bundle))),
            ("upgrade", ("upgrade", "--to", "11.19.0")),
            ("deploy-all", ("deploy-all",)),
            ("publish zip", ("publish", str(zipped))),
            ("verify", ("verify",)),
        ):
            subprocess.run(["sync"], check=True)
            wall, peak, code = step(checkout, data, *arguments)
            figures[label] = {"seconds": round(wall, 2), "peak_mb": peak, "exit": code}
            print(f"{label:15} {wall:7.2f} s  peak {peak:5d} MB  exit {code}", flush=True)
        print(json.dumps({"size_mb": options.size_mb, "checkout": str(checkout), "steps": figures}))
    finally:
        if options.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
