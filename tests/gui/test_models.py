"""The table models obey Qt's model contract (QAbstractItemModelTester), also while they change."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtTest import QAbstractItemModelTester

from app.engine import operations
from app.engine.events import (
    ItemFinished,
    ItemSnapshot,
    ItemStarted,
    RunFinished,
    RunStarted,
)
from app.engine.read import views
from app.gui.details.items_model import RunItemsModel
from app.gui.filters import IN_A_RUN, ModuleFilter, RunItemFilter
from app.gui.modules.model import ModulesModel
from app.gui.run_progress import RunProgress
from app.gui.session import GuiSession
from app.gui.upgrades.report_model import RunReportModel
from tests.gui.conftest import changed_row

AT = datetime(2026, 1, 1, tzinfo=UTC)


def check(model: QAbstractItemModel) -> QAbstractItemModelTester:
    # Warning mode: a broken rule becomes a Qt warning, which fails the test (qt_log_level_fail).
    return QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)


def test_modules_model_and_its_filter(session: GuiSession) -> None:
    model = ModulesModel()
    proxy = ModuleFilter(model)
    testers = [check(model), check(proxy)]
    model.load(views.modules(session.ctx))
    assert model.rowCount() == 30
    assert model.headerData(6, Qt.Orientation.Horizontal) == "State"

    model.lock(["Orders", "Customers"], 7)
    proxy.set_state(IN_A_RUN)
    assert proxy.rowCount() == 2
    model.lock(["Payroll"], 7)  # joins
    assert proxy.rowCount() == 3
    proxy.set_state("compilation-failed")
    proxy.set_text("pay")
    assert [model.rows[proxy.mapToSource(proxy.index(r, 0)).row()].name for r in range(proxy.rowCount())] == ["Payroll"]
    proxy.sort(model.column_index("Module"), Qt.SortOrder.DescendingOrder)  # sorted while filtered
    proxy.set_text("")
    assert proxy.rowCount() == 6
    model.mark_deployed("Orders", 1, "11.19.0")  # not shown
    model.unlock_run(7)
    proxy.set_state("ready")
    model.mark_deployed("Quotes", 1, "11.19.0")  # leaves
    model.load(views.modules(session.ctx))  # same modules: both come back as the database has them
    assert proxy.rowCount() == 24
    operations.delete_module(session.ctx, "Quotes")
    model.load(views.modules(session.ctx))  # a module less: reset
    assert model.rowCount() == 29 and len(testers) == 2


def test_run_items_model_follows_a_run(session: GuiSession) -> None:
    model = RunItemsModel()
    proxy = RunItemFilter()
    proxy.setSourceModel(model)
    proxy.sort(model.column_index("Status"))
    testers = [check(model), check(proxy)]
    pending = tuple(ItemSnapshot(f"M{n}", "App", 1, "pending") for n in range(50))
    items = (*pending, ItemSnapshot("Skip", "App", 1, "skipped", "compilation-failed", "no"))
    progress = RunProgress.from_started(RunStarted(3, "deploy-all", "me", AT, items))
    model.show(progress)
    for n in range(0, 50, 2):
        model.rows_changed([changed_row(progress, ItemStarted(3, f"M{n}", AT))])
        status = "failed" if n % 10 == 0 else "deployed"
        model.rows_changed([changed_row(progress, ItemFinished(3, f"M{n}", status, "boom", "boom", 0.5))])
    progress.apply_event(RunFinished(3, "failed"))
    proxy.set_problems_only(True)
    assert proxy.rowCount() == 5
    assert (progress.done, progress.total, progress.problems) == (25, 50, 5)
    model.show(None)
    assert len(testers) == 2


def test_run_report_model(session: GuiSession) -> None:
    model = RunReportModel()
    tester = check(model)
    model.load(views.run_summaries(session.ctx))
    assert [row.kind for row in model.rows] == ["upgrade", "publish"]
    operations.deploy_all(session.ctx)
    model.load(views.run_summaries(session.ctx))
    assert model.rows[0].kind == "deploy-all"
    done = model.column_index("Done")
    assert model.data(model.index(0, done)) == "24"
    upgrade = 1
    assert model.data(model.index(upgrade, done)) == "24 prepared"  # an upgrade deploys nothing: it prepares
    assert model.data(model.index(upgrade, done), Qt.ItemDataRole.ToolTipRole).startswith("24 prepared: compiled")
    model.load(views.run_summaries(session.ctx))  # same runs: updated in place
    assert tester is not None


def test_a_reload_updates_only_the_modules_that_changed(session: GuiSession) -> None:
    model = ModulesModel()
    tester = check(model)
    model.load(views.modules(session.ctx))
    state = model.column_index("State")
    model.sort(state)
    before = list(model.rows)
    counts = model.state_counts()
    changed: list[tuple[int, int]] = []
    resets: list[bool] = []
    model.dataChanged.connect(lambda top, bottom: changed.append((top.row(), bottom.row())))
    model.modelReset.connect(lambda: resets.append(True))

    model.load(views.modules(session.ctx))  # nothing changed: nothing said
    assert (changed, resets) == ([], []) and all(a is b for a, b in zip(model.rows, before, strict=True))

    assert counts["ready"] == 24
    operations.deploy_all(session.ctx)  # the 24 ready modules become deployed
    model.load(views.modules(session.ctx))
    assert resets == [] and changed, "updated in place, not reset"
    assert model.state_counts() == {"deployed": 24, "compilation-failed": 6}
    keys = [model.rows[n].label for n in range(model.rowCount())]
    assert keys == sorted(keys), "rows moved to keep the State order"
    payroll = model.entry("Payroll")  # names still index rows
    assert payroll is not None and payroll.state == "compilation-failed"
    assert tester is not None


def test_a_reload_that_only_reads_the_locks_this_window_shows_changes_nothing(session: GuiSession) -> None:
    from dataclasses import replace

    model = ModulesModel()
    tester = check(model)
    model.load(views.modules(session.ctx))
    model.lock(["Orders", "Common"], 7)  # a run of this window starts: it locks its modules itself
    before = list(model.rows)
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom: changed.append(top.row()))

    held = {"Orders", "Common"}
    read = [replace(v, locked_by_run=7) if v.name in held else v for v in views.modules(session.ctx)]
    model.load(read)  # the reload the run's start causes reads the same locks from the database
    assert changed == [] and all(a is b for a, b in zip(model.rows, before, strict=True))
    orders = model.entry("Orders")
    assert orders is not None and orders.view.locked_by_run == 7, "what the table holds is the new read"

    read[0] = replace(read[0], description="changed meanwhile")
    model.load(read)
    assert changed == [model.row_of(read[0].name)], "any other difference is shown"
    assert tester is not None
