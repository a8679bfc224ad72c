"""Is the Modules pane usable with 100,000 modules? Load, filter, sort and scroll, with stalls.

    .venv/bin/python bench/gui_modules.py [--modules 100000]

Builds the environment rows directly (``bench/bulk.py``: the state right after an upgrade, as the
engine's own init and migrations leave it plus bulk-inserted rows), opens the window offscreen,
and with a 5 ms QTimer watching the GUI thread measures each step a person would take: the
first load of the tables, showing the Modules pane, typing a filter one key at a time (key
events sent to the pane's filter box), deleting keys, clearing it, choosing a state filter alone
and with text, typing with many rows selected, sorting by a column, and scrolling from top to
bottom a page at a time. For each step it prints the wall time, the worst event-loop stall and
how many rows the table shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCROLL_PAGES = 200
SELECTED = 1_000  # rows selected while a filter is typed: Qt keeps each across the change
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def measure(data_dir: Path) -> list[tuple[str, float, float, int | None]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.engine.context import Location
    from app.gui.application import make_application
    from app.gui.main_window import MainWindow
    from app.gui.memory import settle_long_lived
    from app.gui.session import GuiSession
    from app.gui.welcome import open_environment
    from bench.gui_stall import Ticker, wait

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(data_dir.parent / "settings"))
    app = make_application([sys.argv[0]])
    session = GuiSession(open_environment(Location(data_dir)))
    window = MainWindow(session)
    window.resize(1280, 800)
    window.show()
    settle_long_lived()
    results: list[tuple[str, float, float, int | None]] = []

    def step(name: str, action: Any, blocking: bool = True) -> None:
        ticker = Ticker()
        ticker.start()
        began = time.perf_counter()
        action()
        app.processEvents()
        took = time.perf_counter() - began
        ticker.stop()
        # A blocking action runs on the GUI thread from start to end: all of it is a stall the
        # user feels. A waiting one spins the event loop, so the ticker's gaps tell.
        worst = max([took * 1000 if blocking else 0.0, *ticker.gaps])
        results.append((name, took, worst, window.modules.proxy.rowCount()))

    step("load the tables", lambda: wait(session.snapshot_loaded, session.start, timeout_ms=300_000), blocking=False)
    window.show_pane(1)
    pane = window.modules
    pane.filter_edit.setFocus()
    step("show the Modules pane", app.processEvents)  # its first paint, not the first key's
    for text in ("M", "M0", "M01", "M012", "M0123"):
        step(f"type filter '{text}'", lambda key=text[-1]: QTest.keyClick(pane.filter_edit, key))
    for text in ("M012", "M01"):
        step(f"backspace to '{text}'", lambda: QTest.keyClick(pane.filter_edit, Qt.Key.Key_Backspace))

    def choose_state(state: str) -> None:
        pane.state_filter.setCurrentIndex(pane.state_filter.findData(state))

    step("'M01' and state compilation failed", lambda: choose_state("compilation-failed"))
    step("clear the filter", lambda: pane.filter_edit.setText(""))
    step("state filter: held by an active run", lambda: choose_state("in-a-run"))
    step("state filter: compilation failed", lambda: choose_state("compilation-failed"))
    step("state filter: all", lambda: pane.state_filter.setCurrentIndex(0))
    view = pane.table

    def select_first_rows() -> None:
        first = QItemSelection(pane.proxy.index(0, 0), pane.proxy.index(SELECTED - 1, 0))
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        view.selectionModel().select(first, flags)

    def clear_filter_and_selection() -> None:
        pane.filter_edit.setText("")
        view.clearSelection()

    step(f"select {SELECTED:,} rows", select_first_rows)
    for text in ("M", "M0", "M01"):
        step(f"  then type filter '{text}'", lambda key=text[-1]: QTest.keyClick(pane.filter_edit, key))
    step("clear the filter and the selection", clear_filter_and_selection)
    step("sort by application", lambda: view.sortByColumn(1, Qt.SortOrder.AscendingOrder))
    step("sort by module", lambda: view.sortByColumn(0, Qt.SortOrder.AscendingOrder))
    bar = view.verticalScrollBar()

    pages: list[float] = []

    def scroll_pages() -> None:
        for _ in range(SCROLL_PAGES):
            began = time.perf_counter()
            bar.setValue(min(bar.maximum(), bar.value() + bar.pageStep()))
            QApplication.processEvents()
            pages.append(time.perf_counter() - began)
        bar.setValue(bar.maximum())
        QApplication.processEvents()

    step(f"scroll {SCROLL_PAGES} pages down, then to the end", scroll_pages, blocking=False)
    results.append(("  one page, median / worst", sorted(pages)[len(pages) // 2], max(pages) * 1000, None))
    session.close()
    window.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=100_000)
    options = parser.parse_args()
    from bench import bulk

    with tempfile.TemporaryDirectory(prefix="deploycenter-gui-modules-") as scratch:
        data_dir = Path(scratch) / "env"
        began = time.perf_counter()
        bulk.build(data_dir, options.modules)
        print(f"built {options.modules:,} modules in {time.perf_counter() - began:.1f} s", flush=True)
        print(f"{'step':<40} {'time':>9} {'worst stall':>12}  {'rows shown':>10}")
        for name, took, worst, shown in measure(data_dir):
            print(f"{name:<40} {took * 1000:>7.0f} ms {worst:>9.0f} ms  {'' if shown is None else shown:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
