"""What the window says: a publish that did not compile says so, the close question has a clear pair
of answers, counts are written one way everywhere, and Publish explains a folder that is no bundle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine.events import Event, ItemFinished, ItemSnapshot, ItemStarted, RunFinished, RunStarted
from app.gui.main_window import MainWindow
from tests.bundles import write_bundle
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, Gates, wait_operation


def test_a_publish_whose_module_did_not_compile_says_so(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "bundles", "Legacy", uses=["soap.legacy"])  # gone from 11.19.0

    result = wait_operation(qtbot, window.session, lambda: window.modules.publish([folder / "module.toml"]))

    assert result.result.ok and result.result.value.status == "failed"
    report = window.upgrades.report
    qtbot.waitUntil(lambda: report.rows[0].kind == "publish" and report.rows[0].status == "failed")
    status = report.index(0, report.column_index("Status")).data()
    assert status == "1 did not compile"
    assert window.details.header.title.text().endswith("publish · Failed: 1 did not compile")


def test_the_close_question_answers_are_a_clear_pair(
    qtbot: QtBot, window: MainWindow, gate: Gates, answers: Answers
) -> None:
    gate("Common")
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS):
        window.upgrades.deploy_button.click()
    answers.answer = False

    assert not window.close()

    question = answers.questions[-1]
    assert (question.confirm_label, question.decline_label) == ("Stop the run and close", "Keep running")


def test_counts_are_written_one_way_everywhere(qtbot: QtBot, window: MainWindow) -> None:
    now = datetime.now(UTC)
    items = tuple(ItemSnapshot(f"M{n}", "Big", 1, "pending") for n in range(2028))
    tracker = window.session.tracker
    window.show_pane(2)
    events: list[Event] = [RunStarted(9001, "deploy-all", "tester", now, items)]
    for n in range(1500):
        events += [ItemStarted(9001, f"M{n}", now), ItemFinished(9001, f"M{n}", "deployed", None, None, 0.01)]
    tracker.apply_events(events)

    qtbot.waitUntil(lambda: window.details.header.bar.format() == "1,500 / 2,028 done")  # at the next tick
    assert window.run_bar.format() == "1,500 / 2,028"  # the status bar is short of room
    assert window.run_bar.toolTip() == "1,500 / 2,028 done"
    assert "1,500 deployed" in window.details.header.summary.text()
    tracker.apply_events([RunFinished(9001, "cancelled", {"deployed": 1500, "cancelled": 528})])


def test_publish_explains_a_folder_that_is_no_bundle(qtbot: QtBot, tmp_path: Path) -> None:
    from app.gui.modules.bundle_dialog import BundleDialog  # here: the other tests run without it

    bundle = write_bundle(tmp_path, "Gadgets")
    plain = tmp_path / "photos"
    plain.mkdir()
    dialog = BundleDialog(None, str(tmp_path))
    qtbot.addWidget(dialog)

    dialog.currentChanged.emit(str(plain))  # highlighted in the list
    assert dialog.hint.text().startswith("photos has no module.toml, so it is not a module bundle.")
    dialog.currentChanged.emit(str(bundle))
    assert dialog.hint.text() == "Gadgets is a module bundle: open it and choose module.toml to publish it."
    dialog.setDirectory(str(plain))
    dialog.directoryEntered.emit(str(plain))  # entered, as a double click does
    assert "This folder has no module.toml, so it is not a module bundle" in dialog.hint.text()
    assert dialog.hint.isVisibleTo(dialog)
