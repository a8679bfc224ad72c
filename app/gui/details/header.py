"""The head of the Deployment Details pane: which run it shows, how far it has gone and how it is
going (title, who started it and when, progress bar, elapsed and remaining time, counts), and the
front-ends' line: a rolling run's front-ends with their health checks as they switch, else, once
recorded, what each front-end holds of the run's modules when there are several.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.gui.formatting import counts_summary, duration, run_outcome, timestamp
from app.gui.run_progress import RunProgress, wave_text
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(figures)
        layout.addWidget(self.waves)

    def show_reading(self, run_id: int) -> None:
        self.title.setText(f"Run {run_id}: reading…")

    def show_progress(self, p: RunProgress | None) -> None:
        if p is None:
            for label in (self.subtitle, self.elapsed, self.eta, self.summary):
                label.clear()
            move_bar(self.bar, 0, 1)
            return
        running = p.running
        where = " (started in another process)" if running and not p.own else ""
        self.title.setText(f"Run {p.run_id} · {p.kind} · {run_outcome(p.kind, p.status, p.counts)}{where}")
        self.subtitle.setText(
            f"Started by {p.started_by} at {timestamp(p.started_at)}"
            + (f" · finished at {timestamp(p.finished_at)}" if p.finished_at else "")
            + (f" · {p.message}" if p.message else "")
        )
        move_bar(self.bar, p.done if p.total else 1, max(p.total, 1), p.progress_text())
        self.elapsed.setText(f"Elapsed: {duration(p.elapsed())}")
        eta = p.eta()
        self.eta.setText(f"Remaining: about {duration(eta)}" if eta is not None else "")
        self.summary.setText(counts_summary({k: v for k, v in p.counts.items() if v}))

    def show_waves(self, p: RunProgress | None) -> None:
        """A rolling run's front-ends with their health checks, as they switch; else, once recorded,
        what each front-end holds of the run's modules when there are several front-ends."""
        waves = p.waves if p is not None else {}
        tally = frontend_tally(p) if p is not None and not waves and p.frontends_recorded else {}
        if waves:
            self.waves.setText(
                "Front-ends, one at a time: "
                + " · ".join(f"{name} {'✗' if wave.problem else '✓'} {wave_text(wave)}" for name, wave in waves.items())
            )
        elif len(tally) > 1:
            self.waves.setText(
                "Front-ends: "
                + " · ".join(
                    f"{name} {', '.join(f'{n} {state}' for state, n in sorted(states.items()))}"
                    for name, states in sorted(tally.items())
                )
            )
        self.waves.setVisible(bool(waves) or len(tally) > 1)
