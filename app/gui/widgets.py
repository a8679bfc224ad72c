"""Small widgets the panes share: the message bar, a table view set up for large models, a count."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QFontMetrics, QHideEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.notifier import ERROR, WARNING, Message, Notifier
from app.gui.table_model import ColumnTableModel

BAR_STYLES = {
    ERROR: "background:#fdecea; border:1px solid #e57373; color:#611a15;",
    WARNING: "background:#fff4e5; border:1px solid #ffb74d; color:#663c00;",
}
HEADER_PADDING = 12
PANE_MARGINS = (6, 4, 4, 4)  # left, top, right, bottom: room for the tables at 1024 px
INFO_STYLE = "background:#e8f4fd; border:1px solid #64b5f6; color:#0d3c61;"
SLOT_PADDING = 14  # a pane's message line: one line of text and the bar's margins and border


class MessageBar(QFrame):
    """A dismissable line: what was refused or failed, in the engine's words.

    It shows one message at a time and drops it as soon as what it says no longer holds: the run
    it is about ended (``run_ended``, or ``runs_active`` polls without it), the action that raised
    it is allowed now (``withdraw``), or the operator moved on (``moved_on``: a later action of
    the same pane succeeded, or the environment was read again on request).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setAccessibleName("Message")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.level = ""
        self.message: Message | None = None
        self._unseen_polls = 0  # polls in a row that did not see the message's run active
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss this message (Esc)")
        close.setAccessibleName("Dismiss message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 2, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: Message) -> None:
        self.setStyleSheet(f"QFrame#messageBar {{{BAR_STYLES.get(message.level, INFO_STYLE)}}}")
        self.label.setText(message.text)
        self.level = message.level
        self.message = message
        self._unseen_polls = 0
        self.show()

    def run_ended(self, run_id: int) -> None:
        """A message about that run (a refusal because it ran, "Cancelling run 3") is over with it."""
        if self.message is not None and self.message.run_id == run_id:
            self.hide()

    def runs_active(self, active: Collection[int]) -> None:
        """What a poll saw running. A message about a run that two polls in a row did not see goes:
        polls do not overlap, so the second one began after the message was shown."""
        if self.isHidden() or self.message is None or self.message.run_id is None:
            return
        if self.message.run_id in active:
            self._unseen_polls = 0
            return
        self._unseen_polls += 1
        if self._unseen_polls >= 2:
            self.hide()

    def withdraw(self, source: str) -> None:
        """The action ``source`` is allowed now: its refusal no longer holds."""
        if self.message is not None and self.message.source == source:
            self.hide()

    def moved_on(self) -> None:
        """A later action of the pane succeeded, or the environment was read again on request: what
        the last failure said is history (a refusal about a run still going stays until it ends)."""
        if self.message is not None and self.message.run_id is None:
            self.hide()

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()


class FloatingMessageBar(MessageBar):
    """A pane's message bar, over a line the pane keeps for it (``slot``, at the top of its layout):
    showing or hiding it never moves the rows under the pointer. A message longer than that line
    overlays what is under the line rather than pushing it down. Esc dismisses it."""

    _escape: QShortcut | None = None  # made after the frame, which hides itself while it is built

    def __init__(self, pane: QWidget) -> None:
        super().__init__(pane)
        self.slot = QWidget()  # the pane lays this out where the bar goes; it stays, bar or not
        self.slot.setObjectName("messageSlot")
        self.slot.setFixedHeight(self.label.fontMetrics().height() + SLOT_PADDING)
        self.slot.installEventFilter(self)
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), pane)
        self._escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._escape.setEnabled(False)
        self._escape.activated.connect(self.hide)

    def show_message(self, message: Message) -> None:
        super().show_message(message)
        self._place()
        self.raise_()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._escape is not None:
            self._escape.setEnabled(True)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if self._escape is not None:
            self._escape.setEnabled(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Move) and not self.isHidden():
            self._place()
        return False

    def _place(self) -> None:
        """Over the slot, as wide as it; taller when the message needs more lines."""
        slot = self.slot.geometry()
        width = max(100, slot.width())
        height = self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()
        self.setGeometry(slot.left(), slot.top(), width, max(height, slot.height()))


def table_view(model: QAbstractItemModel, source: ColumnTableModel[Any], name: str) -> QTableView:
    """A sortable, row-selecting view that stays fast with tens of thousands of rows."""
    view = QTableView()
    view.setObjectName(name)
    view.setAccessibleName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTabKeyNavigation(False)
    view.verticalHeader().setVisible(False)
    # Fixed row heights: the view never measures rows, whatever their number.
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    header = view.horizontalHeader()
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # keep the engine's order until asked
    view.setSortingEnabled(True)
    # At least its title: a bold header font needs more room than the cells below it.
    bold = header.font()
    bold.setBold(True)
    titles = QFontMetrics(bold)
    for number, column in enumerate(source.columns):
        view.setColumnWidth(number, max(column.width, titles.horizontalAdvance(column.title) + HEADER_PADDING))
    header.setStretchLastSection(True)
    return view


def move_bar(bar: QProgressBar, value: int, maximum: int, text: str | None = None) -> None:
    """Move a progress bar without painting it there and then.

    QProgressBar.setValue repaints at once, and a repaint paints everything else that waits to be
    painted too (tables, the timeline): during a big run that put all of a tick's painting inside
    that one call. With updates off meanwhile, the bar is painted with the rest, in the event
    loop's next paint.
    """
    bar.setUpdatesEnabled(False)
    try:
        bar.setRange(0, maximum)
        bar.setValue(value)
        if text is not None:
            bar.setFormat(text)
    finally:
        bar.setUpdatesEnabled(True)  # asks for one ordinary paint


class Count(QWidget):
    """A big number over its caption, e.g. the Upgrades pane's module counts."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value = QLabel("–")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.value.setFont(font)
        self.caption = QLabel(caption)
        self.setAccessibleName(caption)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 4)
        layout.addWidget(self.value, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption, 0, Qt.AlignmentFlag.AlignHCenter)

    def set(self, number: int) -> None:
        self.value.setText(f"{number:,}")  # as formatting.number writes every count
        self.setAccessibleDescription(f"{number:,} {self.caption.text()}")

    def clear(self) -> None:
        """Not known yet."""
        self.value.setText("–")
        self.setAccessibleDescription(f"{self.caption.text()}: not known yet")


class Throttle(QObject):
    """Calls ``callback`` at most once per ``interval_ms``, however often it is poked.

    For widgets that repaint synchronously on change (QProgressBar.setValue does): during a
    big run they follow at a few frames a second instead of on every batch.
    """

    def __init__(self, interval_ms: int, callback: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(callback)

    def poke(self) -> None:
        if not self._timer.isActive():
            self._timer.start()


def action_name(action: QAction) -> str:
    return action.text().replace("&", "").rstrip("…. ")


class RefusalShortcuts(QObject):
    """The keyboard shortcut of a disabled action says why it is refused instead of doing nothing.

    Each watched action gets a twin QShortcut on the same keys, enabled only while the action is
    disabled (so the two never compete); it reports the action's tooltip, which then holds the
    reason, in the pane's message bar, with the run that holds the action back (``run_of``) so
    that the refusal goes when that run ends. It also goes as soon as the action is enabled again.
    """

    def __init__(
        self, owner: QWidget, notifier: Notifier, pane: str, run_of: Callable[[], int | None] = lambda: None
    ) -> None:
        super().__init__(owner)
        self._owner = owner
        self._notifier = notifier
        self._pane = pane
        self._run_of = run_of
        self.shortcuts: list[QShortcut] = []

    def watch(self, *actions: QAction) -> None:
        for action in actions:
            if action.shortcut().isEmpty():
                continue
            twin = QShortcut(action.shortcut(), self._owner)
            twin.setContext(action.shortcutContext())
            twin.setEnabled(not action.isEnabled())
            action.enabledChanged.connect(lambda on, action=action, twin=twin: self._enabled(action, twin, on))
            twin.activated.connect(lambda action=action: self._refuse(action))
            self.shortcuts.append(twin)

    def _refuse(self, action: QAction) -> None:
        text = f"{action_name(action)} refused: {action.toolTip()}"
        self._notifier.error(text, self._pane, self._run_of(), source=action_name(action))

    def _enabled(self, action: QAction, twin: QShortcut, on: bool) -> None:
        twin.setEnabled(not on)
        if on:
            self._notifier.withdraw(self._pane, action_name(action))
