"""Metrics for Prometheus, from the record alone: no front-end is contacted.

``metrics`` prints them; with a metrics file set (``policy set --metrics-file``) every run that
ends rewrites that file, atomically, for node_exporter's textfile collector. The text is
prometheus-client's own exposition of a registry holding one collector that reads the record
each time it is collected.

Every run kind and final status is exposed, zeros included, so that a rule such as
``increase(deploycenter_runs_total{status="failed"}[1h]) > 0`` sees the first failure too
(a series that appears at 1 has no increase).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.context import EnvironmentContext
from app.engine.store.models import AuditRow, EnvironmentRow, RunRow, WebhookDeliveryRow
from app.engine.vocabulary import ModuleState, RunKind, RunStatus

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

log = logging.getLogger(__name__)

FINAL_RUN_STATUSES = tuple(status for status in RunStatus if status != RunStatus.RUNNING)
DELIVERY_STATES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class Figures:
    """What the metrics say, read from the record in one snapshot."""

    environment: str
    platform_version: str
    finished_runs: dict[tuple[str, str], int]  # (kind, status) -> runs
    active_runs: dict[str, int]  # kind -> runs
    last_duration: dict[str, float]  # kind -> seconds of its last finished run
    last_finished_at: datetime | None
    modules: dict[str, int]  # state -> modules
    frontends: dict[str, int]  # "enabled" / "disabled" -> front-ends
    audit_last_entry_id: int
    deliveries: dict[str, int]  # state -> webhook deliveries


def read_figures(ctx: EnvironmentContext) -> Figures:
    from app.engine.read import views

    status = views.status(ctx)
    with ctx.db.read() as session:
        name = session.scalar(select(EnvironmentRow.name)) or ""
        finished: dict[tuple[str, str], int] = {}
        active: dict[str, int] = {}
        for kind, run_status, count in session.execute(
            select(RunRow.kind, RunRow.status, func.count()).group_by(RunRow.kind, RunRow.status)
        ):
            if run_status == RunStatus.RUNNING:
                active[str(kind)] = count
            else:
                finished[(str(kind), str(run_status))] = count
        durations = _last_durations(session)
        last_finished = session.scalar(select(func.max(RunRow.finished_at)))
        audit_last = session.scalar(select(func.max(AuditRow.id))) or 0
        deliveries = dict(
            session.execute(select(WebhookDeliveryRow.state, func.count()).group_by(WebhookDeliveryRow.state)).all()
        )
    frontends = sum(1 for frontend in status.frontends if frontend.enabled)
    return Figures(
        environment=name,
        platform_version=status.platform_version,
        finished_runs=finished,
        active_runs=active,
        last_duration=durations,
        last_finished_at=last_finished,  # MAX keeps the column's type: an aware UTC time
        modules={
            ModuleState.DEPLOYED: status.deployed,
            ModuleState.READY: status.ready,
            ModuleState.COMPILATION_FAILED: status.compilation_failed,
            ModuleState.NOT_PREPARED: status.not_prepared,
        },
        frontends={"enabled": frontends, "disabled": len(status.frontends) - frontends},
        audit_last_entry_id=int(audit_last),
        deliveries={state: int(deliveries.get(state, 0)) for state in DELIVERY_STATES},
    )


def _last_durations(session: Session) -> dict[str, float]:
    newest = (
        select(RunRow.kind, func.max(RunRow.id).label("id"))
        .where(RunRow.finished_at.is_not(None))
        .group_by(RunRow.kind)
        .subquery()
    )
    rows = session.execute(
        select(RunRow.kind, RunRow.started_at, RunRow.finished_at).join(newest, newest.c.id == RunRow.id)
    )
    return {str(kind): (finished - started).total_seconds() for kind, started, finished in rows if finished}


class RecordCollector:
    """A prometheus-client collector over ``Figures`` read when it is collected."""

    def __init__(self, ctx: EnvironmentContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        figures = read_figures(self._ctx)
        info = GaugeMetricFamily(
            "deploycenter_info", "The environment and its platform version", labels=["environment", "platform_version"]
        )
        info.add_metric([figures.environment, figures.platform_version], 1)
        yield info
        runs = CounterMetricFamily(
            "deploycenter_runs", "Runs that ended, by kind and status", labels=["kind", "status"]
        )
        for kind in RunKind:
            for status in FINAL_RUN_STATUSES:
                runs.add_metric([kind, status], figures.finished_runs.get((kind, status), 0))
        yield runs
        active = GaugeMetricFamily("deploycenter_runs_active", "Runs in progress, by kind", labels=["kind"])
        for kind in RunKind:
            active.add_metric([kind], figures.active_runs.get(kind, 0))
        yield active
        duration = GaugeMetricFamily(
            "deploycenter_run_duration_seconds", "How long the last finished run of each kind took", labels=["kind"]
        )
        for kind_name, seconds in sorted(figures.last_duration.items()):
            duration.add_metric([kind_name], seconds)
        yield duration
        if figures.last_finished_at is not None:
            yield GaugeMetricFamily(
                "deploycenter_last_run_timestamp_seconds",
                "When the last run ended (Unix time)",
                value=figures.last_finished_at.timestamp(),
            )
        yield _by_label("deploycenter_modules", "Modules in each state", "state", figures.modules)
        yield _by_label("deploycenter_frontends", "Front-ends enabled and disabled", "state", figures.frontends)
        yield GaugeMetricFamily(
            "deploycenter_audit_last_entry_id",
            "The id of the audit log's last entry",
            value=figures.audit_last_entry_id,
        )
        yield _by_label(
            "deploycenter_webhook_deliveries", "Webhook deliveries in each state", "state", figures.deliveries
        )


def _by_label(name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([str(key)], value)
    return family


def registry_for(ctx: EnvironmentContext) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(RecordCollector(ctx))
    return registry


def exposition(ctx: EnvironmentContext) -> bytes:
    """The Prometheus text format of the record now."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(ctx))


def write_metrics_file(ctx: EnvironmentContext, path: Path) -> None:
    """Replace ``path`` with the metrics now, atomically (a temporary file beside it, renamed)."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), registry_for(ctx))


def metrics_file(ctx: EnvironmentContext) -> Path | None:
    with ctx.db.read() as session:
        stored = session.scalar(select(EnvironmentRow.metrics_file))
    return Path(stored) if stored else None


def rewrite_after_runs(ctx: EnvironmentContext) -> None:
    """Rewrite the metrics file, if one is set, each time a run's end is committed."""
    from app.engine.runs.records import RUN_ENDED

    def on_commit(notes: frozenset[str]) -> None:
        if RUN_ENDED not in notes:
            return
        path = metrics_file(ctx)
        if path is None:
            return
        try:
            write_metrics_file(ctx, path)
        except OSError as exc:  # the run stands; the file says so by its age
            log.error("cannot rewrite the metrics file %s: %s", path, exc)

    ctx.db.on_commit(on_commit)
