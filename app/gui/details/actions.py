"""What the Deployment Details pane can do with the run it shows: Cancel, Deploy again, Roll back,
and Export (JSON or CSV), with when each applies and, when it does not, why (in its tooltip).

The pane tells RunActions which run it shows (``show``) and whether it is reading another run's
record (``reading``: nothing to export meanwhile). Each request asks the operator first and goes
to the controller; an export is written on a job thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QWidget

from app.engine.read import views
from app.engine.vocabulary import ItemStatus, RunKind, RunStatus
from app.gui.export import export_run
from app.gui.formatting import describe_run, plural
from app.gui.jobs import JobResult
from app.gui.lifecycle import request_rollback
from app.gui.modules.model import ModulesModel
from app.gui.notifier import Reply
from app.gui.run_progress import PROBLEMS, RunProgress
from app.gui.session import GuiSession
from app.gui.settings import app_settings
from app.gui.upgrades.pane import action_button
from app.gui.widgets import RefusalShortcuts

PANE = "details"
DEPLOY_AGAIN_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED})
AGAIN_ITEM_STATUSES = PROBLEMS | {ItemStatus.CANCELLED}
EXPORT_FOLDER_KEY = "export/folder"


def _left_as_is(modules: ModulesModel, name: str) -> bool:
    """Whether Deploy All's plan leaves the module as it is now (deployed since, say)."""
    entry = modules.entry(name)
    return entry is None or (entry.plan is not None and not entry.planned)


class RunActions(QObject):
    """The pane's actions on its run; they belong to the pane's widget, whose shortcuts they are."""

    def __init__(
        self,
        session: GuiSession,
        modules: ModulesModel,
        deploy_all: Callable[[], object],
        pane: QWidget,
    ) -> None:
        super().__init__(pane)
        self.session = session
        self.modules = modules  # what is deployed now, for Deploy again
        self._deploy_all = deploy_all  # shows the plan and asks first, as the Deploy button does
        self._pane = pane
        self.progress: RunProgress | None = None
        self.reading = False

        def action(text: str, shortcut: str, slot: object) -> QAction:
            made = QAction(text, pane)
            if shortcut:
                made.setShortcut(QKeySequence(shortcut))
            made.triggered.connect(slot)
            return made

        self.cancel_action = action("&Cancel run", "Ctrl+Shift+X", self.request_cancel)
        self.again_action = action("Deploy &again", "", self.request_deploy_again)
        self.json_action = action("Export &JSON…", "", lambda: self.request_export("json"))
        self.csv_action = action("Export &CSV…", "", lambda: self.request_export("csv"))
        self.rollback_action = action("&Roll back this run…", "", self.request_rollback)
        self.rollback_action.setIconText("Roll back…")
        self.refusals = RefusalShortcuts(pane, session.notifier, PANE)
        self.refusals.watch(self.cancel_action)

    def buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for act in (self.cancel_action, self.again_action, self.rollback_action, self.json_action, self.csv_action):
            row.addWidget(action_button(act))
        row.addStretch(1)
        return row

    def show(self, progress: RunProgress | None) -> None:
        """The run the pane shows now; the actions follow at the next ``update``."""
        self.progress = progress

    def update(self) -> None:
        p = self.progress
        running = p is not None and p.running
        self.cancel_action.setEnabled(running)
        self.cancel_action.setToolTip(
            "Stop the run: modules already deploying finish, the rest are cancelled"
            if running
            else "the run shown here is not in progress"
            if p is not None
            else "no run is shown here"
        )
        reason = self._why_not_again()
        self.again_action.setEnabled(reason is None)
        self.again_action.setToolTip(reason or "Deploy again the modules that did not deploy in this run")
        rollback_reason = self._why_no_rollback()
        self.rollback_action.setEnabled(rollback_reason is None)
        self.rollback_action.setToolTip(rollback_reason or "Make live again what was live before this run")
        exportable = p is not None and not self.reading
        for act in (self.json_action, self.csv_action):
            act.setEnabled(exportable)

    def _why_not_again(self) -> str | None:
        p = self.progress
        if p is None or not p.deploys:
            return "Deploy again applies to deployment runs"
        if p.running:
            return "The run is still in progress"
        if p.status not in DEPLOY_AGAIN_STATUSES:
            return "The run finished without errors"
        left = [row.module for row in p.rows if row.status in AGAIN_ITEM_STATUSES]
        if left and all(_left_as_is(self.modules, name) for name in left):
            return "Nothing to deploy again: Deploy All's plan leaves every module this run did not deploy as it is"
        active = self.session.tracker.newest_active()
        if active is not None:
            return f"{describe_run(active, starts_sentence=True)} is in progress"
        return None

    def _why_no_rollback(self) -> str | None:
        p = self.progress
        if p is None:
            return "no run is shown here"
        if p.running:
            return "The run is still in progress"
        if not RunKind(p.kind).traits.rolls_back:
            return f"A {p.kind} run makes nothing live: there is nothing to roll back"
        active = self.session.tracker.newest_active()
        if active is not None:
            return f"{describe_run(active, starts_sentence=True)} is in progress"
        if self.session.controller.awaiting_run_id():
            return "A run is starting"
        return None

    # -- acting -------------------------------------------------------------------------------

    def request_cancel(self) -> None:
        p = self.progress
        if p is None or not p.running:
            return
        question = f"Stop run {p.run_id}? Modules already deploying finish; the others are marked cancelled."
        reply = self.session.notifier.ask(
            "Cancel run",
            question,
            "Stop the run",
            decline_label="Let it run",
            withdrawn_by=self.session.tracker.ended,
            applies=lambda ended: ended.run_id == p.run_id,
        )
        if reply is Reply.YES and p.running:
            self.session.controller.cancel_run(p.run_id, PANE)
        elif not p.running:
            self.session.notifier.info(f"Run {p.run_id} ended ({p.status}) before it was stopped", PANE)

    def request_deploy_again(self) -> None:
        p = self.progress
        if p is None or self._why_not_again() is not None:
            return
        if p.kind == RunKind.DEPLOY_ALL:
            self._deploy_all()
            return
        names = [row.module for row in p.rows if row.status in AGAIN_ITEM_STATUSES]
        question = f"Deploy again {plural(len(names), 'module')} that did not deploy in run {p.run_id}?"
        if names and self.session.notifier.confirm("Deploy again", question, "Deploy"):
            self.session.controller.deploy_modules(names, PANE)

    def request_rollback(self) -> None:
        p = self.progress
        if p is None or self._why_no_rollback() is not None:
            return
        request_rollback(self.session, PANE, run_id=p.run_id)

    def request_export(self, kind: str) -> None:
        if self.progress is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self._pane,
            f"Export run {self.progress.run_id}",
            str(self.export_start(f".{kind}")),
            "JSON (*.json)" if kind == "json" else "CSV (*.csv)",
        )
        if path:
            self.export(Path(path))

    def export_start(self, suffix: str) -> Path:
        """Where the export dialog opens: the folder of the last export, else the user's documents."""
        run_id = self.progress.run_id if self.progress else 0
        folder = Path(str(app_settings().value(EXPORT_FOLDER_KEY, "") or ""))
        if not folder.is_absolute() or not folder.is_dir():
            folder = Path(
                QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home()
            )
        return folder / f"run-{run_id}{suffix}"

    def export(self, path: Path) -> None:
        """Write the run as recorded (JSON, or CSV by the suffix), on a job thread."""
        if self.progress is None:
            return
        run_id = self.progress.run_id

        def work() -> Path:
            export_run(views.run_detail(self.session.ctx, run_id), path)
            return path

        def done(result: JobResult) -> None:
            if result.ok:
                app_settings().setValue(EXPORT_FOLDER_KEY, str(path.parent))
                self.session.notifier.info(f"Run {run_id} exported to {path}")
            else:
                self.session.notifier.error(f"Could not export run {run_id}: {result.error_text}", PANE)

        self.session.jobs.submit("export", work, done)
