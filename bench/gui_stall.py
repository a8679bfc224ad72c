"""Does the window stay responsive during a big Deploy All? Worst event-loop stall, and start-up time.

    .venv/bin/python bench/gui_stall.py [--modules 10000] [--batch 1000] [--keep DIR]

1. Builds an environment of N small generated modules through the engine API: init on 11.18.1,
   publish the bundles in batches (compile and deploy), upgrade to 11.19.0 (prepare). One module
   in 200 uses a capability 11.19.0 removed, so Deploy All skips a few, as in real upgrades.
2. In a fresh child process, opens the window on it (offscreen without a display) and measures
   the time from launch (before Python starts) to the window shown, and to its tables filled.
3. Starts Deploy All from the window, on its worker thread, with a QTimer ticking every 5 ms on
   the GUI thread; the largest gap between two ticks is the worst stall the user would feel.
4. Meanwhile clicks the navigation (a real mouse press and release on the next pane's item) every
   0.7 s, and measures from when each click was due to when the pane it shows has been painted:
   the wait for a busy event loop counts, as it does for a user (median, 90th percentile, worst).
5. Counts the GUI thread's own CPU time during the run: unlike the stalls and the clicks, it does
   not grow with the load other processes put on the machine, so it compares two trees fairly.

For figures close to a user's, run it on a real X server with a window manager, e.g.
``Xvfb :99 -screen 0 1920x1200x24 &  DISPLAY=:99 openbox &`` then ``DISPLAY=:99 QT_QPA_PLATFORM=xcb``;
without a display it renders offscreen, which skips the X round trips and flatters the window.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.engine.store.database import DATABASE_FILE

APPLICATION_SIZE = 20
LEGACY_EVERY = 200
TICK_MS = 5
CLICK_EVERY_MS = 700
MARKS: list[tuple[str, float]] = []  # (what happened, perf_counter) with BENCH_VERBOSE set


# -- building the environment (parent process) ------------------------------------------------


def write_bundles(root: Path, count: int) -> list[Path]:
    """Tiny bundles: each module consumes the one before it in its application of 20."""
    bundles = []
    for n in range(count):
        name = f"M{n:05d}"
        folder = root / name
        (folder / "src").mkdir(parents=True)
        app = f"App{n // APPLICATION_SIZE:04d}"
        lines = [f'name = "{name}"', f'application = "{app}"']
        if n % APPLICATION_SIZE:
            lines.append(f'depends = ["M{n - 1:05d}"]')
        if n % LEGACY_EVERY == LEGACY_EVERY - 1:
            lines.append('uses = ["soap.legacy"]')
        (folder / "module.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / "src" / "main.py").write_text(f"NAME = {name!r}\n\ndef run():\n    return NAME\n", encoding="utf-8")
        bundles.append(folder)
    return bundles


def build_environment(data_dir: Path, count: int, batch: int) -> dict[str, float]:
    from app.engine import operations
    from app.engine.context import Location

    timings: dict[str, float] = {}
    began = time.monotonic()
    shutil.rmtree(data_dir.parent / "bundles", ignore_errors=True)
    bundles = write_bundles(data_dir.parent / "bundles", count)
    timings["write bundles s"] = time.monotonic() - began
    ctx = operations.init_environment(Location(data_dir), platform="11.18.1", name=f"Bench {count}")
    try:
        began = time.monotonic()
        for start in range(0, count, batch):
            operations.publish(ctx, bundles[start : start + batch])
        timings["publish s"] = time.monotonic() - began
        began = time.monotonic()
        operations.upgrade(ctx, "11.19.0")
        timings["upgrade s"] = time.monotonic() - began
    finally:
        ctx.close()
    shutil.rmtree(data_dir.parent / "bundles", ignore_errors=True)
    return timings


def fresh_copy(template: Path, target: Path) -> Path:
    """The prepared environment, copied so that every measurement starts from the same state."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(template, target)
    with sqlite3.connect(target / DATABASE_FILE) as db:  # the front-end path is the one absolute path
        db.execute("UPDATE frontend SET path = ?", (str(target / "frontends" / "default"),))
    db.close()
    # The copy is another environment to its front-end: start it unclaimed, as a new one is.
    (target / "frontends" / "default" / ".deploycenter-owner").unlink(missing_ok=True)
    return target


# -- measuring the window (child process) -------------------------------------------------------


def measure_window(data_dir: Path, launched_at: float) -> dict[str, Any]:
    """Runs in the child: open the window, then Deploy All with a 5 ms ticker watching the loop."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from app.engine.context import Location
    from app.gui.application import make_application
    from app.gui.main_window import MainWindow
    from app.gui.memory import settle_long_lived
    from app.gui.session import GuiSession
    from app.gui.welcome import open_environment

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(data_dir.parent / "settings"))
    app = make_application([sys.argv[0]])
    session = GuiSession(open_environment(Location(data_dir)))
    session.notifier.confirmer = lambda question: True
    window = MainWindow(session)
    window.resize(1280, 800)
    window.show()
    settle_long_lived()  # as run_application does
    app.processEvents()
    shown = time.time() - launched_at
    wait(session.snapshot_loaded, session.start)
    filled = time.time() - launched_at
    if os.environ.get("BENCH_VERBOSE"):
        import gc
        import threading

        gc_started: list[float] = [0.0]

        def gc_watch(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            elif info["generation"] == 2 or time.perf_counter() - gc_started[0] > 0.02:
                took = (time.perf_counter() - gc_started[0]) * 1000
                MARKS.append(
                    (
                        f"gc{info['generation']} {took:.0f} ms on {threading.current_thread().name}",
                        round(time.perf_counter(), 2),
                    )
                )

        gc.callbacks.append(gc_watch)
        for name in ("started", "ended"):
            getattr(session.tracker, name).connect(lambda _p, n=name: MARKS.append((n, round(time.perf_counter(), 2))))
        session.snapshot_loaded.connect(lambda _s: MARKS.append(("snapshot", round(time.perf_counter(), 2))))
        session.watcher.activity.connect(lambda _a: MARKS.append(("poll", round(time.perf_counter(), 2))))
        session.bridge.batch_ready.connect(lambda _b: MARKS.append(("batch", round(time.perf_counter(), 2))))
        session.tracker.ticked.connect(lambda: MARKS.append(("tick", round(time.perf_counter(), 2))))
    ticker = Ticker()
    ticker.start()
    clicker = NavClicker(window)
    profile_to = os.environ.get("BENCH_PROFILE")  # cProfile of the GUI thread during the run, to this file
    if profile_to:
        import cProfile

        # The GUI thread's own CPU time: what other processes on the machine do does not count.
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
    began = time.monotonic()

    def deploy_all_while_clicking() -> None:
        window.upgrades.request_deploy_all()
        clicker.start()

    cpu_began, process_began = time.thread_time(), time.process_time()
    wait(session.controller.finished, deploy_all_while_clicking, timeout_ms=30 * 60_000)
    run_seconds = time.monotonic() - began
    gui_cpu, process_cpu = time.thread_time() - cpu_began, time.process_time() - process_began
    if profile_to:
        profiler.disable()
        profiler.dump_stats(profile_to)
    ticker.stop()
    clicker.stop()
    progress = window.details.progress
    result = {
        "window shown after launch s": round(shown, 3),
        "tables filled after launch s": round(filled, 3),
        "modules": window.modules_model.rowCount(),
        "deploy-all s": round(run_seconds, 2),
        "GUI thread CPU during the run s": round(gui_cpu, 2),
        "window process CPU during the run s": round(process_cpu, 2),  # every thread: they share the GIL
        "run status": progress.status if progress else None,
        "items": dict(progress.counts) if progress else {},
        "platform": app.platformName(),
        **clicker.figures(),
        "bridge batches": session.bridge.batches,
        "batches per s": round(session.bridge.batches / run_seconds, 1),
        **ticker.figures(),
    }
    # Closing after a big run: reload and close, both measured as stalls too.
    ticker = Ticker()
    ticker.start()
    wait(session.snapshot_loaded, session.refresh)
    ticker.stop()
    result["worst stall during a reload ms"] = ticker.figures()["worst stall ms"]
    window.close()
    session.close()
    return result


class NavClicker:
    """Clicks the next pane's navigation item every CLICK_EVERY_MS; how long until it is painted."""

    def __init__(self, window: Any) -> None:
        from PySide6.QtCore import QObject, Qt, QTimer

        self.window = window
        self.latencies: list[float] = []
        self._due = 0.0
        self._waiting_for: Any = None
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(CLICK_EVERY_MS)
        self._timer.timeout.connect(self._click)
        clicker = self

        class PaintWatch(QObject):
            def eventFilter(self, watched: Any, event: Any) -> bool:
                from PySide6.QtCore import QEvent

                if event.type() == QEvent.Type.Paint and watched is clicker._waiting_for:
                    clicker._waiting_for = None
                    QTimer.singleShot(0, clicker._painted)  # after the rest of this paint and its flush
                return False

        self._watch = PaintWatch()
        for pane in window.panes:
            pane.installEventFilter(self._watch)

    def start(self) -> None:
        self._next_due = time.perf_counter() + CLICK_EVERY_MS / 1000
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _click(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        due, self._next_due = self._next_due, self._next_due + CLICK_EVERY_MS / 1000
        if self._waiting_for is not None:
            return  # the last click is not drawn yet: that one goes on counting
        nav = self.window.nav
        target = (nav.currentRow() + 1) % nav.count()
        self._due = due
        self._waiting_for = self.window.panes[target]
        centre = nav.visualItemRect(nav.item(target)).center()
        QTest.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=centre)

    def _painted(self) -> None:
        self.latencies.append((time.perf_counter() - self._due) * 1000)

    def figures(self) -> dict[str, Any]:
        done = sorted(self.latencies) or [0.0]
        return {
            "navigation clicks": len(self.latencies),
            "click to painted median ms": round(statistics.median(done), 1),
            "click to painted p90 ms": round(percentile(done, 90), 1),
            "click to painted worst ms": round(done[-1], 1),
        }


class Ticker:
    """A 5 ms QTimer on the GUI thread; records the gaps between its ticks."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._started = self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000
        self.gaps.append(gap)
        if gap > 40 and os.environ.get("BENCH_VERBOSE"):
            print(f"  stall {gap:.0f} ms at {now - self._started:.2f} s; marks: {MARKS[-3:]}", file=sys.stderr)
        self._last = now

    def figures(self) -> dict[str, Any]:
        gaps = sorted(self.gaps) or [0.0]
        return {
            "worst stall ms": round(gaps[-1], 1),
            "p99 tick gap ms": round(gaps[int(len(gaps) * 0.99) - 1] if len(gaps) > 1 else gaps[0], 1),
            "median tick gap ms": round(statistics.median(gaps), 1),
            "gaps over 50 ms": sum(1 for g in gaps if g > 50),
            "gaps over 100 ms": sum(1 for g in gaps if g > 100),
        }


def percentile(ordered: list[float], percent: int) -> float:
    """The value under which ``percent`` of the sorted ``ordered`` lie (nearest rank)."""
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[rank - 1]


def wait(signal: Any, start: Any, timeout_ms: int = 120_000) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    start()
    loop.exec()
    signal.disconnect(loop.quit)


# -- driver ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000, help="bundles per publish run while building")
    parser.add_argument(
        "--keep", type=Path, help="keep the built environment here and reuse it next time (default: a temp folder)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--launched-at", type=float, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure_window(options.child, options.launched_at)))
        return 0
    folder = options.keep or Path(tempfile.mkdtemp(prefix="deploycenter-gui-bench-"))
    try:
        template = folder / f"template-{options.modules}"
        figures: dict[str, Any] = {"cpus": os.cpu_count()}
        if not (template / DATABASE_FILE).is_file():
            print(f"building {options.modules} modules in {template} ...", file=sys.stderr)
            built = build_environment(template, options.modules, options.batch)
            figures.update({k: round(v, 1) for k, v in built.items()})
        data_dir = fresh_copy(template, folder / "run")
        print("opening the window and running Deploy All ...", file=sys.stderr)
        launched = time.time()
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(data_dir), "--launched-at", str(launched)],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
        if child.returncode != 0 or os.environ.get("BENCH_VERBOSE"):
            print(child.stderr, file=sys.stderr)
        if child.returncode != 0:
            return child.returncode
        figures.update(json.loads(child.stdout.strip().splitlines()[-1]))
        width = max(len(key) for key in figures)
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
