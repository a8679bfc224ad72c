"""The environment's policy: the settings that govern every run, whoever starts it, stored on the
environment row: how many approvals a planned run needs (change control), and the metrics file
every run rewrites when it ends.

Every setting given is checked before anything is stored (bad input is exit 2 with nothing
written), and all of them are stored and audited in one transaction. A metrics path must be in a
folder that exists and be writable, which is proved by writing the metrics into it at once, so
that a typo is found now and not after the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError
from app.engine.kinds.recovery import begin_operation
from app.engine.runs.records import environment
from app.engine.store.models import EnvironmentRow

MAX_APPROVALS = 20  # more reviewers than this for one plan is a typing error, not a policy


@dataclass(frozen=True)
class Policy:
    approvals_required: int  # approvals of its saved plan, by others than its maker, a planned run needs
    metrics_file: str | None

    @classmethod
    def of(cls, env: EnvironmentRow) -> Policy:
        return cls(env.approvals_required or 0, env.metrics_file)

    def to_json(self) -> dict[str, Any]:
        return {"approvals_required": self.approvals_required, "metrics_file": self.metrics_file}


@dataclass(frozen=True)
class PolicyChange:
    """What ``policy set`` was given; None leaves a setting as it is."""

    approvals: int | None = None
    metrics_file: str | None = None
    clear_metrics_file: bool = False

    @property
    def empty(self) -> bool:
        return self.approvals is None and self.metrics_file is None and not self.clear_metrics_file


def read_policy(ctx: EnvironmentContext) -> Policy:
    with ctx.db.read() as session:
        return Policy.of(environment(session))


def set_policy(ctx: EnvironmentContext, change: PolicyChange) -> Policy:
    """Store the settings ``change`` gives, after checking every one of them."""
    if change.empty:
        raise BadInputError("policy set: give at least one setting (see policy set --help)")
    if change.approvals is not None and not 0 <= change.approvals <= MAX_APPROVALS:
        raise BadInputError(f"--approvals takes a whole number from 0 to {MAX_APPROVALS}, not {change.approvals}")
    metrics = _proved_metrics_file(ctx, change.metrics_file) if change.metrics_file is not None else None
    with audited(ctx, "policy-set", "policy"), ctx.db.write() as session:
        env = begin_operation(session)
        if change.approvals is not None:
            env.approvals_required = change.approvals
            audit(session, "policy-set", "approvals", "done", f"every planned run needs {change.approvals}")
        if metrics is not None or change.clear_metrics_file:
            env.metrics_file = metrics
            audit(session, "policy-set", "metrics-file", "done", metrics or "none")
        return Policy.of(env)


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


def _proved_metrics_file(ctx: EnvironmentContext, text: str) -> str:
    from app.engine.metrics import write_metrics_file

    path = checked_metrics_path(text)
    try:
        write_metrics_file(ctx, path)
    except OSError as exc:
        raise BadInputError(f"cannot write the metrics file {path}: {exc.strerror or exc}") from None
    return str(path)
