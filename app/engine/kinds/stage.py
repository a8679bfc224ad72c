"""Stage runs (rules.md#stage): write every release Deploy All would deploy, and switch nothing.

The plan, the locks and the staging are Deploy All's (``deploy``); each release is written and
made durable on every enabled front-end, or on none, and its item ends ``staged``. A later
Deploy All plans the same modules, finds their releases in place (a target reuses an identical
release instead of writing it again) and only switches, which is what a short maintenance
window needs.
"""

from __future__ import annotations

import threading

from app.engine.context import EnvironmentContext
from app.engine.events import EventSink, ignore_events
from app.engine.kinds.base import RunOutcome
from app.engine.kinds.deploy import deploy_run
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.vocabulary import RunKind


def stage_all(
    ctx: EnvironmentContext,
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Stage every release Deploy All would deploy now on every enabled front-end (run kind ``stage``);
    ``options`` may only set a failure budget."""
    return deploy_run(ctx, RunKind.STAGE, None, workers, on_event, cancel, options)
