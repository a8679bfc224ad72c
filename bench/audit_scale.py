"""Time and peak memory of ``audit verify`` and ``audit export`` over a big audit log, as whole commands.

    .venv/bin/python bench/audit_scale.py --entries 1000000
    .venv/bin/python bench/audit_scale.py --entries 100000 1000000      # export memory at two sizes

For each size: a new environment whose log is filled with that many chained entries (written
straight into the SQLite file with the engine's own hash, so filling is not what is measured),
then each command is a fresh ``python -m app --unattended ...`` process started by a small wrapper
whose only child it is, so that the peak printed is the command's largest resident set, in MB:

1. ``audit verify`` (every entry read and hashed again, in id order);
2. ``audit export`` as JSON lines, to /dev/null;
3. ``audit export --format csv``, to /dev/null.

Targets: verify under 10 s at 1,000,000 entries; export in constant memory (the same peak
whatever the size).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.engine.audit_chain import entry_hash

# Runs a command as its only child and prints the child's peak resident set in kB, its CPU
# seconds (user and system) and its exit code. On a machine shared with other work the CPU time
# is what the wall time would be on an idle one: the commands are single-threaded.
PEAK = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'wb') as out:\n"
    "    code = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, code, file=sys.stderr)\n"
)
FILL_BATCH = 20_000


def command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "app", "--unattended", *args, "--data-dir", str(data_dir)]


def fill(data_dir: Path, entries: int) -> None:
    """Append ``entries`` chained entries after the ones ``init`` wrote, as ``audit.audit`` would."""
    with sqlite3.connect(data_dir / "deploycenter.sqlite3") as connection:
        last_id, prev = connection.execute("SELECT id, sha256 FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = []
        for number in range(last_id + 1, last_id + 1 + entries):
            at = start + timedelta(seconds=number, microseconds=number % 1_000_000)
            detail = f"run {number}, 12 module(s)"
            sha = entry_hash(prev, number, at, "ops@build-7", "deploy-all", f"run {number}", "succeeded", detail)
            stamp = at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            rows.append((number, stamp, "ops@build-7", "deploy-all", f"run {number}", "succeeded", detail, prev, sha))
            prev = sha
            if len(rows) == FILL_BATCH:
                _insert(connection, rows)
                rows = []
        _insert(connection, rows)


def _insert(connection: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    connection.executemany(
        "INSERT INTO audit_log (id, at, who, operation, target, result, detail, prev_sha256, sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def measure(data_dir: Path, *args: str) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak MB and exit code of one command, its stdout thrown away."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, os.devnull, *command(data_dir, *args)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_kb, cpu, code = done.stderr.strip().splitlines()[-1].split()
    return seconds, float(cpu), int(peak_kb) / 1024, int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, nargs="+", default=[1_000_000])
    options = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for entries in options.entries:
        root = Path(tempfile.mkdtemp(prefix="audit-scale-"))
        try:
            data_dir = root / "env"
            subprocess.run(command(data_dir, "init", "--frontend", str(root / "fe")), check=True, capture_output=True)
            clock = time.perf_counter()
            fill(data_dir, entries)
            size = (data_dir / "deploycenter.sqlite3").stat().st_size / 2**20
            print(f"\n{entries:,} entries written in {time.perf_counter() - clock:.1f} s (database {size:.0f} MB)")
            for label, args in (
                ("audit verify", ("audit", "verify")),
                ("audit export (jsonl)", ("audit", "export")),
                ("audit export --format csv", ("audit", "export", "--format", "csv")),
            ):
                seconds, cpu, peak, code = measure(data_dir, *args)
                print(f"  {label:28} wall {seconds:6.2f} s   cpu {cpu:6.2f} s   peak {peak:6.1f} MB   exit {code}")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
