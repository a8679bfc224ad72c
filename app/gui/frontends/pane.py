"""The Front-ends pane: every front-end of the farm, whether it is reached, in step and drained,
and the actions that change the farm (add, disable, enable, remove, adopt), its hooks (set them,
test the health checks now) and what the selected front-end's last hook or check said.

Reaching the front-ends is I/O (a remote one is a connection away), so the farm is read on a job
thread: when the pane is first shown, after every run and change, and on Check now. Testing a
front-end's checks runs them on a job thread too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine import farm_admin as frontends
from app.engine.context import EnvironmentContext
from app.engine.frontend.registry import Frontend
from app.engine.read.farm import FarmState, FrontendState, farm_state
from app.gui.formatting import count_text, plural
from app.gui.jobs import JobResult
from app.gui.session import GuiSession
from app.gui.table_model import SORT_ROLE, Column, ColumnTableModel
from app.gui.widgets import PANE_MARGINS, FloatingMessageBar, table_view

PANE = "frontends"
FARM_JOB = "farm"
TEST_JOB = "test front-end"


@dataclass(frozen=True)
class PaneState:
    """What one read of the pane's job brings back: the farm, and each front-end's last hook."""

    farm: FarmState
    last_hooks: Mapping[str, Mapping[str, Any]]


def read_pane_state(ctx: EnvironmentContext) -> PaneState:
    return PaneState(farm_state(ctx), frontends.last_hooks(ctx))


def _hooks(frontend: Frontend) -> str:
    named = [("drain", frontend.drain_cmd), ("undrain", frontend.undrain_cmd)]
    return ", ".join(word for word, hook in named if hook)


def _checks(frontend: Frontend) -> str:
    return " ; ".join(check for check in (frontend.health_cmd, frontend.health_url) if check)


def last_output_text(name: str, last: Mapping[str, Any] | None) -> str:
    """A front-end's last hook or check, as the pane's output panel shows it."""
    if not last:
        return f"No hook or check has run on {name} yet."
    outcome = "passed" if last.get("ok") else "timed out" if last.get("timed_out") else "failed"
    head = f"{name}: {last.get('phase')} {outcome} at {last.get('at')}: {last.get('command')}"
    return f"{head}\n\n{last.get('output') or '(no output)'}"


def _reach(state: FrontendState) -> str:
    if not state.frontend.enabled:
        return "disabled"
    return "reachable" if state.reachable else "unreachable"


class FrontendsModel(ColumnTableModel[FrontendState]):
    columns = (
        Column("Name", lambda s: s.frontend.name, width=90),
        Column("Kind", lambda s: s.frontend.kind, width=50),
        Column("State", _reach, tooltip=lambda s: s.problem or "", width=90),
        Column(
            "Live", lambda s: count_text(s.live) if s.reachable else "", sort=lambda s: s.live, numeric=True, width=50
        ),
        Column(
            "Behind",
            lambda s: count_text(s.behind) if s.reachable else "",
            sort=lambda s: s.behind,
            numeric=True,
            tooltip=lambda s: "modules recorded as deployed that run another release here, or none",
            width=56,
        ),
        Column(
            "Not recorded",
            lambda s: count_text(s.extra) if s.reachable else "",
            sort=lambda s: s.extra,
            numeric=True,
            width=80,
        ),
        Column(
            "Drained",
            lambda s: "" if s.frontend.drained_by is None else f"by run {s.frontend.drained_by}",
            tooltip=lambda s: "" if s.frontend.drained_by is None else "a changing command undrains it",
            width=80,
        ),
        Column("Hooks", lambda s: _hooks(s.frontend), width=90),
        Column("Health check", lambda s: _checks(s.frontend), width=160),
        Column("Target", lambda s: s.frontend.location, width=200),
    )

    @staticmethod
    def filter_key(row: FrontendState) -> str:
        return f"{row.frontend.name}\t{row.frontend.location}"


class AddFrontendDialog(QDialog):
    """Name, target (a folder or ssh://), an optional health command, and whether to take it over."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a front-end")
        self.name_edit = QLineEdit()
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText("/srv/www or ssh://deploy@web3/srv/www")
        self.health_edit = QLineEdit()
        self.health_edit.setPlaceholderText("optional, e.g. curl -fsS http://web3/health")
        self.adopt_box = QCheckBox("Take it over if another environment owns it")
        form = QFormLayout(self)
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Target:", self.target_edit)
        form.addRow("&Health check:", self.health_edit)
        form.addRow(self.adopt_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> tuple[str, str, str | None, bool]:
        health = self.health_edit.text().strip() or None
        return self.name_edit.text().strip(), self.target_edit.text().strip(), health, self.adopt_box.isChecked()


class HooksDialog(QDialog):
    """A front-end's hooks to edit: a field left empty removes that hook."""

    def __init__(self, frontend: Frontend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frontend = frontend
        self.setWindowTitle(f"Hooks of front-end {frontend.name}")
        self.drain_edit = QLineEdit(frontend.drain_cmd or "")
        self.drain_edit.setPlaceholderText(
            "e.g. echo 'set server farm/web1 state drain' | socat stdio /run/haproxy.sock"
        )
        self.undrain_edit = QLineEdit(frontend.undrain_cmd or "")
        self.undrain_edit.setPlaceholderText("e.g. echo 'set server farm/web1 state ready' | socat stdio ...")
        self.health_edit = QLineEdit(frontend.health_cmd or "")
        self.health_edit.setPlaceholderText("a command that exits 0 when the front-end is healthy")
        self.url_edit = QLineEdit(frontend.health_url or "")
        self.url_edit.setPlaceholderText("https://web1.example/health/{module}")
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(0, 86400)
        self.timeout_spin.setDecimals(1)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setSpecialValueText("default (60 s)")
        self.timeout_spin.setValue(frontend.health_timeout or 0)
        form = QFormLayout(self)
        form.addRow(
            QLabel(
                "Run on this machine through the shell, in a rolling run's order: drain, switch, "
                "check (and soak), undrain."
            )
        )
        form.addRow("&Drain command:", self.drain_edit)
        form.addRow("&Undrain command:", self.undrain_edit)
        form.addRow("Health &command:", self.health_edit)
        form.addRow("Health &URL:", self.url_edit)
        form.addRow("Health &timeout:", self.timeout_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def settings(self) -> frontends.HookSettings:
        """What changed: edited hooks set, emptied ones cleared, the others left as they are."""
        fe = self.frontend
        given: dict[str, Any] = {}
        cleared: set[str] = set()
        for option, column, was, now in (
            ("drain-cmd", "drain_cmd", fe.drain_cmd, self.drain_edit.text().strip()),
            ("undrain-cmd", "undrain_cmd", fe.undrain_cmd, self.undrain_edit.text().strip()),
            ("health-cmd", "health_cmd", fe.health_cmd, self.health_edit.text().strip()),
            ("health-url", "health_url", fe.health_url, self.url_edit.text().strip()),
        ):
            if now and now != was:
                given[column] = now
            elif not now and was:
                cleared.add(option)
        timeout = self.timeout_spin.value()
        if timeout and timeout != fe.health_timeout:
            given["health_timeout"] = timeout
        elif not timeout and fe.health_timeout is not None:
            cleared.add("health-timeout")
        return frontends.HookSettings(**given, clear=frozenset(cleared))


class FrontendsPane(QWidget):
    def __init__(self, session: GuiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = FrontendsModel(self)
        self.farm: FarmState | None = None
        self._check_again = False
        self.add_action = QAction("&Add…", self)
        self.add_action.triggered.connect(self.request_add)
        self.disable_action = QAction("&Disable", self)
        self.disable_action.setToolTip("Take the front-end out of every run; enable it again to bring it up to date")
        self.disable_action.triggered.connect(lambda: self._change("Disable", frontends.set_enabled, False))
        self.enable_action = QAction("&Enable", self)
        self.enable_action.triggered.connect(lambda: self._change("Enable", frontends.set_enabled, True))
        self.remove_action = QAction("&Remove", self)
        self.remove_action.setToolTip("Forget the front-end; its files stay where they are")
        self.remove_action.triggered.connect(self.request_remove)
        self.adopt_action = QAction("Ad&opt", self)
        self.adopt_action.setToolTip("Take over a front-end that another environment stamped as its own")
        self.adopt_action.triggered.connect(lambda: self._change("Adopt", frontends.adopt_frontend))
        self.check_action = QAction("&Check now", self)
        self.check_action.triggered.connect(self.check_on_request)
        self._check_asked = False
        self.hooks_action = QAction("&Hooks…", self)
        self.hooks_action.setToolTip("Set the drain, undrain and health hooks a rolling run uses")
        self.hooks_action.triggered.connect(self.request_hooks)
        self.test_action = QAction("&Test now", self)
        self.test_action.setToolTip("Run the front-end's health command and URL once now (not its drain or undrain)")
        self.test_action.triggered.connect(self.test_checks)
        self.last_hooks: Mapping[str, Mapping[str, Any]] = {}
        self._build()
        # Bound methods, not lambdas: Qt drops these connections when the pane goes.
        session.snapshot_loaded.connect(self._on_snapshot)
        session.tracker.ended.connect(self._on_run_ended)
        self.update_actions()

    def _build(self) -> None:
        self.message_bar = FloatingMessageBar(self)
        self.summary = QLabel("Front-ends are checked when this pane is shown.")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Farm summary")
        buttons = QHBoxLayout()
        for action in (
            self.add_action,
            self.disable_action,
            self.enable_action,
            self.remove_action,
            self.adopt_action,
            self.hooks_action,
            self.test_action,
            self.check_action,
        ):
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.model)
        proxy.setSortRole(SORT_ROLE)
        self.proxy = proxy
        self.table = table_view(proxy, self.model, "Front-ends")
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.disagreement = QLabel()
        self.disagreement.setWordWrap(True)
        self.disagreement.setAccessibleName("Modules the front-ends disagree on")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar.slot)  # kept for messages: they never push the rows down
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.disagreement)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setAccessibleName("Last hook output")
        self.output.setPlaceholderText("Select a front-end to see what its last hook or check said.")
        self.output.setMaximumHeight(140)
        layout.addWidget(self.output)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.farm is None:
            self.check()

    # -- reading the farm -----------------------------------------------------------------------

    def _on_snapshot(self, _snapshot: object) -> None:
        if self.isVisible():
            self.check()

    def _on_run_ended(self, *_args: object) -> None:
        if self.isVisible():
            self.check()

    def check_on_request(self) -> None:
        """Check now: read the farm again; the pane's message about an earlier failure goes with it."""
        self._check_asked = True
        self.check()

    def check(self) -> None:
        if self.session.closed:
            return
        if self.session.jobs.running(FARM_JOB):
            self._check_again = True
            return
        self._check_again = False
        self.check_action.setEnabled(False)
        self.session.jobs.submit(FARM_JOB, lambda: read_pane_state(self.session.ctx), self._checked)

    def _checked(self, result: JobResult) -> None:
        self.check_action.setEnabled(True)
        if not result.ok:
            self.session.notifier.error(f"Could not check the front-ends: {result.error_text}", PANE)
        else:
            self.last_hooks = result.value.last_hooks
            self.show_farm(result.value.farm)
            if self._check_asked:
                self._check_asked = False
                self.message_bar.moved_on()
        if self._check_again:
            self.check()

    def show_farm(self, farm: FarmState) -> None:
        self.farm = farm
        self.model.set_rows(list(farm.frontends))
        enabled = [s for s in farm.frontends if s.frontend.enabled]
        down = [s for s in enabled if not s.reachable]
        behind = [s for s in enabled if s.reachable and s.behind]
        if down:
            reasons = "; ".join(f"{s.frontend.name}: {s.problem or 'no answer'}" for s in down)
            text = f"{plural(len(down), 'front-end')} cannot be reached ({reasons})."
        elif behind:
            one = len(behind) == 1
            lagging = ", ".join(s.frontend.name for s in behind)
            text = (
                f"{plural(len(behind), 'front-end')} {'runs' if one else 'run'} older releases than recorded "
                f"({lagging}): Deploy All brings {'it' if one else 'them'} up to date."
            )
        elif len(enabled) == 1:
            text = f"The one enabled front-end, {enabled[0].frontend.name}, runs what is recorded."
        else:
            text = f"All {count_text(len(enabled))} enabled front-ends run what is recorded."
        disabled = [s.frontend.name for s in farm.frontends if not s.frontend.enabled]
        if disabled:
            text += f" Disabled, left out of runs: {', '.join(disabled)}."
        drained = [f"{s.frontend.name} (run {s.frontend.drained_by})" for s in farm.frontends if s.frontend.drained_by]
        if drained:
            text += f" Still drained by a run that ended: {', '.join(drained)}; the next change undrains it."
        self.summary.setText(text)
        if farm.disagreeing:
            names = sorted(farm.disagreeing)
            more = f" and {count_text(len(names) - 10)} more" if len(names) > 10 else ""
            self.disagreement.setText(
                f"The front-ends run different releases of {plural(len(names), 'module')}: "
                f"{', '.join(names[:10])}{more}. Deploy All makes them agree; Verify names every difference."
            )
        else:
            self.disagreement.setText("")
        self.update_actions()

    # -- changing the farm ----------------------------------------------------------------------

    def selected(self) -> FrontendState | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.rows[self.proxy.mapToSource(rows[0]).row()]

    def _on_selection(self) -> None:
        self.update_actions()
        state = self.selected()
        if state is not None:
            self.output.setPlainText(last_output_text(state.frontend.name, self.last_hooks.get(state.frontend.name)))

    def update_actions(self) -> None:
        state = self.selected()
        for action in (
            self.disable_action,
            self.enable_action,
            self.remove_action,
            self.adopt_action,
            self.hooks_action,
            self.test_action,
        ):
            action.setEnabled(state is not None)
        if state is not None:
            self.test_action.setEnabled(bool(state.frontend.health_cmd or state.frontend.health_url))
        if state is not None:
            self.disable_action.setEnabled(state.frontend.enabled)
            self.enable_action.setEnabled(not state.frontend.enabled)

    def request_add(self) -> None:
        dialog = AddFrontendDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        name, target, health, adopt = dialog.values()
        self.session.controller.quick(
            "Add front-end",
            PANE,
            lambda: frontends.add_frontend(
                self.session.ctx, name, target, frontends.HookSettings(health_cmd=health), adopt_it=adopt
            ),
            f"Front-end {name} added: the next Deploy All brings it up to date",
        )

    def request_hooks(self) -> None:
        state = self.selected()
        if state is None:
            return
        dialog = HooksDialog(state.frontend, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.set_hooks(state.frontend.name, dialog.settings())

    def set_hooks(self, name: str, settings: frontends.HookSettings) -> None:
        """Store a front-end's hooks; a refused one is said in this pane."""
        self.session.controller.quick(
            "Set hooks",
            PANE,
            lambda: frontends.set_hooks(self.session.ctx, name, settings),
            f"Hooks of front-end {name} set",
        )

    def test_checks(self) -> None:
        """Run the selected front-end's health checks once, off the window's thread, and show what they said."""
        state = self.selected()
        if state is None or self.session.jobs.running(TEST_JOB):
            return
        name = state.frontend.name
        self.output.setPlainText(f"Testing the health checks of {name}…")
        self.session.jobs.submit(TEST_JOB, lambda: frontends.check_health_now(self.session.ctx, name), self._tested)

    def _tested(self, result: JobResult) -> None:
        if not result.ok:
            self.session.notifier.error(f"Could not test the front-end: {result.error_text}", PANE)
        else:
            test: frontends.HealthNow = result.value
            name = test.frontend.name
            if test.problem is None:
                self.session.notifier.info(f"The health checks of {name} pass", PANE)
            else:
                self.session.notifier.warning(test.problem, PANE)
            self.output.setPlainText(
                last_output_text(
                    name,
                    {
                        "phase": "health",
                        "ok": test.problem is None,
                        "at": "now",
                        "command": _checks(test.frontend),
                        "output": test.output,
                    },
                )
            )
        self.update_actions()
        self.check()  # the last output is kept: the pane reads it back with the farm

    def request_remove(self) -> None:
        state = self.selected()
        if state is None:
            return
        question = (
            f"Forget front-end {state.frontend.name} ({state.frontend.location})? Its files stay where "
            "they are; runs no longer write there."
        )
        if self.session.notifier.confirm("Remove front-end", question, "Remove"):
            self._change("Remove", frontends.remove_frontend)

    def _change(self, verb: str, call: Callable[..., Any], *extra: Any) -> None:
        state = self.selected()
        if state is None:
            return
        name = state.frontend.name
        self.session.controller.quick(
            f"{verb} front-end", PANE, lambda: call(self.session.ctx, name, *extra), f"{verb}: front-end {name} done"
        )
