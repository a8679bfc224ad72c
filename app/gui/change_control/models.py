"""The Change control pane's tables: saved plans, weekly windows and freezes, as plain rows."""

from __future__ import annotations

from app.engine.control.plans import PlanSummary
from app.engine.control.schedule import Moment, format_hours
from app.engine.control.settings import FreezeEntry, WindowEntry
from app.gui.table_model import Column, ColumnTableModel


def plan_state(plan: PlanSummary) -> str:
    """Where a plan stands, in a few words."""
    if plan.run_id is not None:
        return f"Ran as run {plan.run_id}"
    if plan.stale:
        return "Stale: the environment changed"
    if len(plan.approvals) < plan.needed:
        return f"Awaiting {plan.needed - len(plan.approvals)} approval(s)"
    return "Current, ready to run"


def _stale_tip(plan: PlanSummary) -> str:
    if not plan.stale:
        return ""
    return "Changed since it was made:\n" + "\n".join(plan.stale[:20])


def _approvals_tip(plan: PlanSummary) -> str:
    return "\n".join(
        f"{a.identity} at {a.at:%Y-%m-%d %H:%M} UTC" + (f": {a.comment}" if a.comment else "") for a in plan.approvals
    )


class PlansModel(ColumnTableModel[PlanSummary]):
    columns = (
        Column("Plan", lambda p: p.short_id, width=100),
        Column("Kind", lambda p: p.kind.traits.label, width=90),
        Column("Target", lambda p: p.target, width=140),
        Column("Made by", lambda p: p.created_by, width=120),
        Column("Made", lambda p: f"{p.created_at:%Y-%m-%d %H:%M}", sort=lambda p: p.created_at, width=110),
        Column("Changes", lambda p: str(p.changes), sort=lambda p: p.changes, numeric=True, width=60),
        Column(
            "Approvals",
            lambda p: f"{len(p.approvals)} of {p.needed}",
            sort=lambda p: len(p.approvals),
            tooltip=_approvals_tip,
            width=80,
        ),
        Column("State", plan_state, tooltip=_stale_tip, width=170),
    )

    @staticmethod
    def filter_key(row: PlanSummary) -> str:
        return f"{row.plan_id}\t{row.target}\t{row.created_by}"


def _moment(moment: Moment | None) -> str:
    return f"{moment.local:%a %Y-%m-%d %H:%M %Z}" if moment is not None else ""


class WindowsModel(ColumnTableModel[WindowEntry]):
    columns = (
        Column("Id", lambda w: str(w.window.id), sort=lambda w: w.window.id, numeric=True, width=40),
        Column("Starts", lambda w: w.window.start_text, width=80),
        Column("Lasts", lambda w: format_hours(w.window.minutes), sort=lambda w: w.window.minutes, width=70),
        Column("Zone", lambda w: w.window.zone, width=120),
        Column("Open now", lambda w: "yes" if w.open_now else "", width=70),
        Column("Next opens", lambda w: "" if w.open_now else _moment(w.opens), width=170),
        Column("Closes", lambda w: _moment(w.closes), width=170),
    )


class FreezesModel(ColumnTableModel[FreezeEntry]):
    columns = (
        Column("Id", lambda f: str(f.freeze.id), sort=lambda f: f.freeze.id, numeric=True, width=40),
        Column("From", lambda f: _moment(Moment(f.freeze.starts_at, f.freeze.zone)), width=170),
        Column("Until", lambda f: _moment(Moment(f.freeze.ends_at, f.freeze.zone)), width=170),
        Column("Zone", lambda f: f.freeze.zone, width=120),
        Column("In force", lambda f: "yes" if f.active else "", width=60),
        Column("Reason", lambda f: f.freeze.reason or "", width=200),
    )
