"""The window itself: title, panes and their shortcuts, status bar, and what it remembers."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolBar
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.gui.session import GuiSession


def test_title_names_the_environment(window: MainWindow) -> None:
    assert window.windowTitle() == "Deploy Center — Demo"
    assert window.platform_label.text() == "Platform 11.19.0"
    assert not window.run_bar.isVisible()


def test_upgrades_pane_says_where_the_upgrade_stands(window: MainWindow) -> None:
    pane = window.upgrades
    assert pane.title.text() == "Upgrading modules from 11.18.1 to 11.19.0"
    counts = {key: widget.value.text() for key, widget in pane.counts.items()}
    assert counts == {"total": "30", "ready": "24", "compilation-failed": "6", "deployed": "0", "staged": "0"}
    assert pane.upgrade_targets() == ["11.19.1", "11.20.0"]


def test_ctrl_1_to_5_switch_panes(qtbot: QtBot, window: MainWindow) -> None:
    window.activateWindow()
    for number in (2, 3, 4, 5, 1):
        window.pane_actions[number - 1].trigger()
        assert window.stack.currentIndex() == number - 1
    assert [a.shortcut().toString() for a in window.pane_actions] == [f"Ctrl+{n}" for n in range(1, 7)]


def test_toolbar_and_menus_hold_every_action(window: MainWindow) -> None:
    toolbar = window.findChild(QToolBar, "mainToolbar")
    assert toolbar is not None
    texts = [a.text().replace("&", "") for a in toolbar.actions()]
    assert texts == ["Deploy", "Upgrade to…", "Publish new version…", "Refresh"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Run", "Module", "View", "Help"]


def test_every_control_has_an_accessible_name_or_text(window: MainWindow) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QComboBox,
        QLineEdit,
    )

    nameless = [
        w
        for cls in (QAbstractButton, QLineEdit, QAbstractItemView, QComboBox)
        for w in window.findChildren(cls)
        if w.isVisibleTo(window)
        and not w.accessibleName()
        and not getattr(w, "text", lambda: "")()
        and not isinstance(w.parent(), (QAbstractItemView,))
        and w.objectName() != "qt_toolbar_ext_button"
    ]
    assert not nameless, [type(w).__name__ + ":" + w.objectName() for w in nameless]


def test_size_position_and_pane_are_remembered(qtbot: QtBot, window: MainWindow, session: GuiSession) -> None:
    window.resize(QSize(700, 540))  # the offscreen screen is 800 x 600: stay inside it
    window.move(QPoint(40, 30))
    window.show_pane(1)
    saved = window.size()
    window.save_settings()

    again = MainWindow(session)
    qtbot.addWidget(again)
    assert again.stack.currentIndex() == 1
    assert again.size() == saved and saved.height() == 540


def test_opening_a_report_row_shows_the_run(qtbot: QtBot, window: MainWindow) -> None:
    table = window.upgrades.table
    table.setCurrentIndex(table.model().index(0, 0))
    table.setFocus()
    QTest.keyClick(table, Qt.Key.Key_Return)
    assert window.stack.currentIndex() == 2
    qtbot.waitUntil(lambda: window.details.progress is not None)
    assert window.details.progress is not None and window.details.progress.kind == "upgrade"
    assert window.details.model.rowCount() == 30


def test_status_bar_and_details_pane_show_the_same_counts(qtbot: QtBot, window: MainWindow) -> None:
    from app.engine.events import ItemFinished, ItemSnapshot, RunFinished, RunStarted
    from app.gui.formatting import utcnow

    items = tuple(ItemSnapshot(f"X{n}", "Bench", 1, "pending") for n in range(40))
    tracker = window.session.tracker
    tracker.apply_events([RunStarted(90, "deploy-all", "ci", utcnow(), items)])
    for batch in range(3):
        tracker.apply_events(
            [ItemFinished(90, f"X{n}", "deployed", None, None, 0.1) for n in range(batch * 10, batch * 10 + 10)]
        )
        done = batch * 10 + 10

        def reached(d: int = done) -> bool:
            return window.details.header.bar.value() == d or window.run_bar.value() == d

        qtbot.waitUntil(reached)
        assert window.run_bar.value() == window.details.header.bar.value() == done
    tracker.apply_events([RunFinished(90, "cancelled")])


def test_at_1024_by_700_every_column_fits(qtbot: QtBot, window: MainWindow) -> None:
    window.resize(QSize(1024, 700))
    for pane in range(3):
        window.show_pane(pane)
        qtbot.wait(10)  # let the layout settle at the new size
        table = (window.upgrades.table, window.modules.table, window.details.table)[pane]
        assert table.horizontalHeader().length() <= table.viewport().width(), pane
    assert window.nav.width() <= 130


def test_the_modules_icon_in_the_navigation_says_modules_failed(window: MainWindow) -> None:
    item = window.nav.item(1)
    assert item.data(Qt.ItemDataRole.UserRole) == "failed"
    assert item.toolTip() == "6 modules failed to compile for 11.19.0"


def test_an_upgrade_whose_only_failures_are_compilations_says_so_in_words(window: MainWindow) -> None:
    report = window.upgrades.report
    status = report.index(0, report.column_index("Status"))
    assert report.rows[0].kind == "upgrade"
    assert status.data() == "6 did not compile"  # the Prepared and Failed columns hold the counts
    assert status.data(Qt.ItemDataRole.ToolTipRole) == "24 prepared, 6 did not compile"


def test_the_upgrades_pane_pictures_the_module_states(window: MainWindow) -> None:
    from PySide6.QtGui import QColor

    from app.gui.upgrades.states_bar import SEGMENTS

    bar = window.upgrades.states_bar
    colours = dict(SEGMENTS)
    image = bar.grab().toImage()
    for state in ("ready", "compilation-failed"):
        rect = bar.segment(state)
        assert rect.width() > 0
        assert QColor(image.pixel(rect.center().toPoint())).name() == colours[state]
    assert bar.segment("deployed").width() == 0
    assert bar.segment("ready").width() == 4 * bar.segment("compilation-failed").width()  # 24 against 6
    assert bar.toolTip() == "24 modules: ready to deploy\n6 modules: compilation failed"
