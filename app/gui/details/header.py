"""The head of the Deployment Details pane: which run it shows, how far it has gone and how it is
going (title, who started it and when, progress bar, elapsed and remaining time, counts), and the
front-ends' line: a rolling run's front-ends as they go through their phases (drained, switching,
checked, soaking with its countdown, undrained, switched back), else, once recorded, what each
front-end holds of the run's modules when there are several.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.engine.events import RolloutPhase
from app.gui.formatting import count_text, counts_summary, duration, run_outcome, timestamp
from app.gui.run_progress import RunProgress, compile_failures, phase_text, soak_left, wave_text
from app.gui.widgets import move_bar


def frontend_tally(progress: RunProgress) -> dict[str, Counter[str]]:
    """For each front-end, how many of the run's modules are in each state there (as recorded)."""
    tally: dict[str, Counter[str]] = {}
    for row in progress.rows:
        for name, state in (row.frontends or {}).items():
            tally.setdefault(name, Counter())[state] += 1
    return tally


class RunHeader(QWidget):
    """The run's title, progress and figures, and the front-ends' line under them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No run selected: open one from the Upgrades report, or start a run")
        self.title.setAccessibleName("Run")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Run progress")
        self.elapsed = QLabel()
        self.eta = QLabel()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        figures = QGridLayout()
        figures.addWidget(self.bar, 0, 0, 1, 3)
        figures.addWidget(self.elapsed, 1, 0)
        figures.addWidget(self.eta, 1, 1)
        figures.addWidget(self.summary, 1, 2)
        figures.setColumnStretch(2, 1)
        self.waves = QLabel()  # a rolling run: each front-end and its health check, on one line
        self.waves.setAccessibleName("Front-ends switched one at a time")
        self.waves.setWordWrap(True)
        self.waves.hide()
        self._shown: RunProgress | None = None
        self.soak_timer = QTimer(self)  # a soak's countdown, once a second while one runs
        self.soak_timer.setInterval(1000)
        self.soak_timer.timeout.connect(lambda: self.show_waves(self._shown))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(figures)
        layout.addWidget(self.waves)

    def show_reading(self, run_id: int) -> None:
        self.title.setText(f"Run {run_id}: reading…")

    def show_starting(self, name: str) -> None:
        """A run asked for a moment ago: its setup reads the front-ends and records it first."""
        self.title.setText(f"{name}: starting…")
        self.subtitle.setText("Reading what to do and recording the run; its modules appear here as soon as it starts")
        for label in (self.elapsed, self.eta, self.summary):
            label.clear()
        self.bar.setRange(0, 0)  # busy: how long the setup takes is not known
        self.bar.setFormat("Starting…")
        self.waves.hide()

    def show_progress(self, p: RunProgress | None) -> None:
        if p is None:
            for label in (self.subtitle, self.elapsed, self.eta, self.summary):
                label.clear()
            move_bar(self.bar, 0, 1)
            return
        running = p.running
        where = " (started in another process)" if running and not p.own else ""
        outcome = run_outcome(p.kind, p.status, p.counts, compile_failed=compile_failures(p))
        self.title.setText(f"Run {p.run_id} · {p.kind} · {outcome}{where}")
        self.subtitle.setText(
            f"Started by {p.started_by} at {timestamp(p.started_at)}"
            + (f" · finished at {timestamp(p.finished_at)}" if p.finished_at else "")
            + (f" · {p.message}" if p.message else "")
        )
        move_bar(self.bar, *p.bar(), p.progress_text())
        self.elapsed.setText(f"Elapsed: {duration(p.elapsed())}")
        remaining = p.remaining_text()
        self.eta.setText(f"Remaining: {remaining}" if remaining else "")
        self.summary.setText(counts_summary({k: v for k, v in p.counts.items() if v}))

    def show_waves(self, p: RunProgress | None) -> None:
        """A rolling run's front-ends as they switch, each with its phase and health check; else,
        once recorded, what each front-end holds of the run's modules when there are several."""
        self._shown = p
        names = list(dict.fromkeys([*p.waves, *p.phases])) if p is not None else []
        tally = frontend_tally(p) if p is not None and not names and p.frontends_recorded else {}
        if p is not None and names:
            self.waves.setText("Front-ends, one at a time: " + " · ".join(self._frontend_text(p, n) for n in names))
        elif len(tally) > 1:
            self.waves.setText(
                "Front-ends: "
                + " · ".join(
                    f"{name} {', '.join(f'{count_text(n)} {state}' for state, n in sorted(states.items()))}"
                    for name, states in sorted(tally.items())
                )
            )
        self.waves.setVisible(bool(names) or len(tally) > 1)
        soaking = p is not None and p.running and any(soak_left(phase) for phase in p.phases.values())
        if soaking and not self.soak_timer.isActive():
            self.soak_timer.start()
        elif not soaking:
            self.soak_timer.stop()

    @staticmethod
    def _frontend_text(p: RunProgress, name: str) -> str:
        wave, phase = p.waves.get(name), p.phases.get(name)
        failed = (wave is not None and wave.problem is not None) or name in p.failed_on
        text = f"{name} {'✗' if failed else '✓'}"  # its own checks and hooks; "switched back" may follow
        if wave is not None:
            text += f" {wave_text(wave)}"
        if phase is None:
            return text
        # The health check's line already says what switching and checking did, and its failure.
        said = wave is not None and (
            phase.phase in (RolloutPhase.SWITCHING, RolloutPhase.HEALTH)
            or (phase.problem is not None and phase.problem == wave.problem)
        )
        return text if said else f"{text}{',' if wave is not None else ''} {phase_text(phase)}"
