"""A run written out for people and tools: JSON (the same document as ``run --json``) and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from app.engine.identity import iso
from app.engine.read.views import RunDetail

CSV_COLUMNS = (
    "module",
    "application",
    "version",
    "status",
    "reason",
    "message",
    "started_at",
    "finished_at",
    "seconds",
)


def export_json(detail: RunDetail, path: Path) -> None:
    document = {"run": detail.to_json()}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export_csv(detail: RunDetail, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in detail.items:
            seconds = "" if item.seconds is None else f"{item.seconds:.3f}"
            writer.writerow(
                [
                    item.module,
                    item.application,
                    item.version if item.version is not None else "",
                    item.status,
                    item.reason or "",
                    item.message or "",
                    iso(item.started_at) or "",
                    iso(item.finished_at) or "",
                    seconds,
                ]
            )


def export_run(detail: RunDetail, path: Path) -> None:
    """By the file's suffix: ``.csv`` writes CSV, anything else JSON."""
    if path.suffix.casefold() == ".csv":
        export_csv(detail, path)
    else:
        export_json(detail, path)
