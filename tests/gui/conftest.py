"""GUI test fixtures: offscreen Qt, settings in the test's folder, a real demo environment, a window.

Every fixture that starts something stops it: windows are closed and threads joined, since a
QThread left running aborts the whole test process when it ends.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QSettings
from pytestqt.qtbot import QtBot

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.events import Event
from app.engine.frontend.layout import OWNER_FILE
from app.engine.store.database import DATABASE_FILE
from app.gui.controller import OperationResult
from app.gui.frontends.pane import FARM_JOB
from app.gui.main_window import MainWindow
from app.gui.modules.model import ModuleEntry, ModulesModel
from app.gui.notifier import Question
from app.gui.run_progress import RunProgress
from app.gui.session import REFRESH_JOB, GuiSession
from app.gui.welcome import open_environment
from tests.dbus import NotificationService, SessionBus

FAST_POLL_MS = 100
RUN_TIMEOUT_MS = 30_000


@pytest.fixture(scope="session", autouse=True)
def session_bus() -> Iterator[SessionBus]:
    """A throwaway session bus for every window of the run: none reaches the desktop's own bus.

    Set before any window asks Qt for the session bus, which Qt connects to once per process.
    """
    bus = SessionBus()
    before = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    yield bus
    if before is None:
        del os.environ["DBUS_SESSION_BUS_ADDRESS"]
    else:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = before
    bus.stop()


@pytest.fixture
def notification_service(session_bus: SessionBus, tmp_path: Path) -> Iterator[NotificationService]:
    """A desktop's notification service on the session bus, for one test."""
    service = NotificationService.start(session_bus.address, tmp_path)
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def _settings_in_tmp(tmp_path: Path) -> None:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: the demo environment, upgraded to 11.19.0."""
    folder = tmp_path_factory.mktemp("template") / "env"
    ctx = operations.init_environment(Location(folder), demo=True)
    try:
        operations.upgrade(ctx, "11.19.0")
    finally:
        ctx.close()
    return folder


@pytest.fixture
def location(tmp_path: Path, demo_template: Path) -> Location:
    """A fresh copy of the demo: 24 modules ready to deploy, 6 that failed to compile for 11.19.0."""
    folder = tmp_path / "env"
    shutil.copytree(demo_template, folder)
    with sqlite3.connect(folder / DATABASE_FILE) as db:  # the front-end path is the one absolute path
        db.execute("UPDATE frontend SET path = ?", (str(folder / "frontends" / "default"),))
    db.close()
    # A copy is another environment to its front-ends; this one is meant as new, so its own
    # front-end starts unclaimed and the first run stamps it.
    (folder / "frontends" / "default" / OWNER_FILE).unlink()
    return Location(folder)


class Answers:
    """Answers the window's yes/no questions and remembers them."""

    def __init__(self) -> None:
        self.questions: list[Question] = []
        self.answer = True
        self.before_answer: Callable[[Question], None] | None = None

    def __call__(self, question: Question) -> bool:
        self.questions.append(question)
        if self.before_answer is not None:
            self.before_answer(question)
        return self.answer


@pytest.fixture
def answers() -> Answers:
    return Answers()


def wait_operation(qtbot: QtBot, session: GuiSession, start: Callable[[], object]) -> OperationResult:
    """Start something and wait, on a GUI-thread signal, until its job has ended and been reported."""
    with qtbot.waitSignal(session.controller.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        start()
    result = blocker.args[0]
    assert isinstance(result, OperationResult)
    return result


def module_entry(model: ModulesModel, name: str) -> ModuleEntry:
    """The Modules table's row for ``name``, which the test expects to be there."""
    found = model.entry(name)
    assert found is not None, f"{name} is not in the Modules table"
    return found


def changed_row(progress: RunProgress, event: Event) -> int:
    """Fold ``event`` into ``progress``; the row it changed, which the test expects there to be."""
    row = progress.apply_event(event)
    assert row is not None, f"{event} changed no row"
    return row


def first_frontend(session: GuiSession) -> Path:
    """The folder of the environment's first front-end, from the snapshot the window shows."""
    assert session.snapshot is not None, "no snapshot loaded yet"
    return Path(session.snapshot.status.frontends[0].location)


def wait_refreshed(qtbot: QtBot, session: GuiSession) -> None:
    with qtbot.waitSignal(session.snapshot_loaded, timeout=RUN_TIMEOUT_MS):
        session.refresh()


def farm_checked(qtbot: QtBot, window: MainWindow) -> None:
    """Until the Front-ends pane has read the farm as it is now. A check asked for while one runs is
    run again once that one ends, with what that one could not see yet: that one is waited for too."""
    window.frontends.check()

    def settled() -> bool:
        return not window.session.jobs.running(FARM_JOB)

    qtbot.waitUntil(settled, timeout=RUN_TIMEOUT_MS)


def select_frontend(window: MainWindow, name: str) -> None:
    """Select the row of front-end ``name`` in the Front-ends pane."""
    pane = window.frontends
    row = next(n for n, state in enumerate(pane.model.rows) if state.frontend.name == name)
    index = pane.proxy.mapFromSource(pane.model.index(row, 0))
    pane.table.selectionModel().select(
        index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )


def wait_planned(qtbot: QtBot, session: GuiSession) -> None:
    """Until the last reload, and the engine's Deploy All plan read after it, have reached the window."""

    def settled() -> bool:
        return not session.jobs.running(REFRESH_JOB) and not session.plan.reading and session.plan.last is not None

    qtbot.waitUntil(settled, timeout=RUN_TIMEOUT_MS)


class ArtifactGate:
    """Makes deploying one module wait until ``release``: its artifact becomes a named pipe.

    The deployer reads the artifact, and reading a pipe blocks until someone writes to it, so a
    run (of this process or another) stays open, deterministically, with no sleeps.
    """

    def __init__(self, location: Location, module: str) -> None:
        ctx = open_context(location)
        try:
            item = next(i for i in operations.plan_deploy_all(ctx).items if i.module == module)
            assert item.artifact_sha256 is not None
            self.path = ctx.artifacts.path(item.artifact_sha256)
        finally:
            ctx.close()
        self.data = self.path.read_bytes()
        self.path.unlink()
        os.mkfifo(self.path)
        self._writer: threading.Thread | None = None

    def release(self) -> None:
        """Hand the artifact to the reader, now or as soon as it opens the pipe."""
        if self._writer is None:
            self._writer = threading.Thread(target=self._serve, name="artifact-gate", daemon=True)
            self._writer.start()

    def _serve(self) -> None:
        with open(self.path, "wb") as pipe:  # blocks until the deployer opens it for reading
            pipe.write(self.data)

    def close(self) -> None:
        """Teardown: unblock the writer if nobody read, and put the real file back."""
        self.release()
        assert self._writer is not None
        if self._writer.is_alive():
            reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            self._writer.join(timeout=5)
            os.close(reader)
        self._writer.join(timeout=5)
        tmp = self.path.with_suffix(".restore")
        tmp.write_bytes(self.data)
        os.replace(tmp, self.path)


class Gates:
    """Makes gates; sessions and windows release them all before closing, so no run waits forever."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self.made: list[ArtifactGate] = []

    def __call__(self, module: str = "Common") -> ArtifactGate:
        self.made.append(ArtifactGate(self._location, module))
        return self.made[-1]

    def release_all(self) -> None:
        for each in self.made:
            each.release()


@pytest.fixture
def gate(location: Location) -> Iterator[Gates]:
    """Set up before sessions and windows, so torn down after them: files come back last."""
    made = Gates(location)
    yield made
    for each in made.made:
        each.close()


@pytest.fixture
def session(qapp: Any, location: Location, answers: Answers, gate: Gates) -> Iterator[GuiSession]:
    opened = GuiSession(open_environment(location), poll_interval_ms=FAST_POLL_MS)
    opened.notifier.confirmer = answers
    yield opened
    gate.release_all()
    opened.close()
    assert not opened.jobs.running(), "a job thread outlived its session"


@pytest.fixture
def window(qtbot: QtBot, session: GuiSession, gate: Gates) -> Iterator[MainWindow]:
    shown = MainWindow(session)
    shown.show()
    polled: list[object] = []
    session.watcher.activity.connect(polled.append)
    with qtbot.waitSignal(session.snapshot_loaded, timeout=RUN_TIMEOUT_MS):
        session.start()
    wait_planned(qtbot, session)
    # The watcher's first poll, on its own job thread, sets every module's locks from the database:
    # landing after a test has fed the tracker a run, it would clear that run's locks.
    qtbot.waitUntil(lambda: bool(polled), timeout=RUN_TIMEOUT_MS)
    yield shown
    gate.release_all()
    shown.close()
    shown.deleteLater()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The offscreen platform says so for every top-level window with size limits; it is not ours.
    for item in items:
        if "tests/gui/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"))
