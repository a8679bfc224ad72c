"""The environment's policy: settings that govern every run, whoever starts it, stored on the
environment row. For now the metrics file that every run rewrites when it ends.

A path is checked before anything is stored: its folder must exist and the file must be writable
there, which is proved by writing the metrics into it at once, so that a typo is found now and
not after the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError
from app.engine.runs.records import environment, serialize_writers


@dataclass(frozen=True)
class Policy:
    metrics_file: str | None

    def to_json(self) -> dict[str, Any]:
        return {"metrics_file": self.metrics_file}


def read_policy(ctx: EnvironmentContext) -> Policy:
    with ctx.db.read() as session:
        return Policy(environment(session).metrics_file)


def checked_metrics_path(text: str) -> Path:
    """A file path in a folder that exists; not a folder itself."""
    if not text.strip():
        raise BadInputError("--metrics-file needs a file path")
    path = Path(text).expanduser().absolute()
    if not path.parent.is_dir():
        raise BadInputError(f"the folder of the metrics file {path} does not exist; create it first")
    if path.is_dir():
        raise BadInputError(f"the metrics file {path} is a folder; name a file in it, such as deploycenter.prom")
    return path


def set_metrics_file(ctx: EnvironmentContext, text: str | None) -> Policy:
    """Name the file every run rewrites when it ends (None: no file); written at once to prove it."""
    from app.engine.metrics import write_metrics_file

    path = checked_metrics_path(text) if text is not None else None
    if path is not None:
        try:
            write_metrics_file(ctx, path)
        except OSError as exc:
            raise BadInputError(f"cannot write the metrics file {path}: {exc.strerror or exc}") from None
    stored = str(path) if path is not None else None
    with audited(ctx, "policy-set", "metrics-file"), ctx.db.write() as session:
        env = serialize_writers(session)
        env.metrics_file = stored
        audit(session, "policy-set", "metrics-file", "done", stored or "none")
    return Policy(stored)
