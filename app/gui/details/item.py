"""The module selected in the Deployment Details table: its whole message and what to do about it
(Publish solution, only for a failure that compiling again repairs, a damaged artifact, and only
while the module is not deployed since), and the consumers its failure blocked, which a click
selects in turn (``row_chosen``).

ItemPanel owns these widgets; the pane places them (the message under the table, the blocked
consumers in a tab of their own) and names the tab with the count ``show`` returns.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QTableView, QVBoxLayout

from app.engine.artifacts import damaged_artifact
from app.engine.vocabulary import ItemStatus, ModuleState, RunKind
from app.gui.formatting import count_text, item_hint, item_status_text, plural
from app.gui.icons import status_icon
from app.gui.modules.model import ModulesModel
from app.gui.run_progress import ItemRow, RunProgress, blocked_by, blocking_producer, frontends_text
from app.gui.session import GuiSession

PANE = "details"
BLOCKED_SHOWN = 500
# Runs that write a module's stored build to the front-ends: a damaged one fails them.
SOLVABLE_KINDS = frozenset({RunKind.DEPLOY_ALL, RunKind.DEPLOY, RunKind.ROLLBACK, RunKind.STAGE})


class ItemPanel(QObject):
    """The table's current module of the shown run, told in full."""

    row_chosen = Signal(int)  # a blocked consumer, to be made the table's current row

    def __init__(
        self,
        session: GuiSession,
        table: QTableView,
        proxy: QSortFilterProxyModel,
        modules: ModulesModel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._modules = modules  # what each module is now: a failure fixed since needs no solution
        self._table = table
        self._proxy = proxy
        self.progress: RunProgress | None = None
        self.detail = QLabel()
        self.detail.setAccessibleName("Selected module's message")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.solution_button = QPushButton()
        self.solution_button.setAccessibleName("Publish solution for the selected module")
        self.solution_button.clicked.connect(self.request_solution)
        self.solution_button.hide()
        self.blocked = QListWidget()
        self.blocked.setAccessibleName("Consumers the failure blocked")
        self.blocked.itemActivated.connect(self._on_blocked_chosen)
        self.blocked.itemClicked.connect(self._on_blocked_chosen)

    def add_to(self, layout: QVBoxLayout) -> None:
        """The message, then the Publish solution button on a row of its own."""
        layout.addWidget(self.detail)
        solution_row = QHBoxLayout()
        solution_row.addWidget(self.solution_button)
        solution_row.addStretch(1)
        layout.addLayout(solution_row)

    def current_row(self) -> int | None:
        index = self._table.selectionModel().currentIndex()
        return self._proxy.mapToSource(index).row() if index.isValid() else None

    def show(self, progress: RunProgress | None, number: int | None) -> int:
        """Row ``number`` of the run (None: no selection); returns how many consumers its failure blocked."""
        self.progress = progress
        chain = self._show_blocked(number)
        self._show_message(number)
        return chain

    def _show_message(self, number: int | None) -> None:
        """The current module's whole message, wrapped, and what to do about it."""
        p = self.progress
        if p is None or number is None or number >= len(p.rows):
            self.detail.setText("Select a module to read its whole message here." if p else "")
            self.solution_button.hide()
            return
        row = p.rows[number]
        lines = [
            f"{row.module} ({row.application}): {item_status_text(p.kind, row.status, row.version)}"
            + (f" · {row.reason}" if row.reason and row.reason not in (row.message or "") else "")
        ]
        if row.message:
            lines.append(row.message)
        suggested = self._solution_helps(p, row)
        hint = item_hint(p.kind, row.status, row.reason)
        if hint and not suggested:  # "Deploy again" would fail the same way: the solution is said below
            lines.append(hint)
        if row.frontends:
            lines.append(f"On the front-ends: {frontends_text(row.frontends)}")
        if suggested:
            again = " in this Deploy All and in the one before" if row.module in p.repeated_failures else ""
            lines.append(
                f"{row.module} failed{again} because its stored build is damaged: Publish solution "
                "compiles it again from its stored source and deploys it."
            )
            self.solution_button.setText(f"Publish solution for {row.module}…")
        self.solution_button.setVisible(suggested)
        self.detail.setText("\n".join(lines))

    def _solution_helps(self, progress: RunProgress, row: ItemRow) -> bool:
        """Publish solution is offered for a failure a new compilation repairs, while it still matters."""
        if row.status != ItemStatus.FAILED or progress.kind not in SOLVABLE_KINDS:
            return False
        if not damaged_artifact(row.reason) and not damaged_artifact(row.message):
            return False  # a front-end's problem, say: compiling again changes nothing there
        entry = self._modules.entry(row.module)
        return entry is not None and entry.state != ModuleState.DEPLOYED

    def _show_blocked(self, number: int | None) -> int:
        """The consumers that the selected failure (or the failure that blocked the selection) blocked."""
        self.blocked.clear()
        p = self.progress
        producer = None
        if p is not None and number is not None and number < len(p.rows):
            row = p.rows[number]
            if row.status == ItemStatus.FAILED:
                producer = row.module
            elif row.status == ItemStatus.BLOCKED and row.reason:
                producer = blocking_producer(row.reason)
        chain = blocked_by(p.rows, producer) if p is not None and producer else []
        if producer is None:
            self.blocked.addItem("Select a failed module to see the consumers it blocked.")
            return 0
        if not chain:
            self.blocked.addItem(f"{producer} blocked no consumer in this run.")
            return 0
        head = QListWidgetItem(f"{producer} failed, so {plural(len(chain), 'consumer')} were not attempted:")
        head.setFlags(Qt.ItemFlag.NoItemFlags)
        self.blocked.addItem(head)
        for n in chain[:BLOCKED_SHOWN]:
            item = QListWidgetItem(status_icon(ItemStatus.BLOCKED), f"{p.rows[n].module} ({p.rows[n].application})")  # type: ignore[union-attr]
            item.setData(Qt.ItemDataRole.UserRole, n)
            self.blocked.addItem(item)
        if len(chain) > BLOCKED_SHOWN:
            self.blocked.addItem(f"… and {count_text(len(chain) - BLOCKED_SHOWN)} more (Failures only lists them all)")
        return len(chain)

    def _on_blocked_chosen(self, item: QListWidgetItem) -> None:
        number = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(number, int):
            self.row_chosen.emit(number)

    def request_solution(self) -> None:
        number = self.current_row()
        p = self.progress
        if p is None or number is None or number >= len(p.rows):
            return
        module = p.rows[number].module
        question = (
            f"Publish solution for {module}? Its latest version is compiled again from its stored source "
            "for the current platform and deployed, with the modules it needs first."
        )
        if self.session.notifier.confirm("Publish solution", question, "Publish solution"):
            self.session.controller.publish_solution([module], PANE)
