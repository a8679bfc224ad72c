"""Switching staged modules across a farm with its hooks and checks, and switching back on its own
(rules.md#rolling, rules.md#load-balanced).

A rolling switch takes the front-ends one at a time: drain (``--drain-cmd``), switch, check (its
health command and URL, tried until they pass or its health timeout), soak (every front-end
switched so far must keep passing its checks, every time, for the soak's seconds), undrain
(``--undrain-cmd``). The next front-end is drained only once this one is undrained, so never two
are drained at once. A whole switch (a run with a soak but not rolling) switches every front-end,
checks each, then soaks them all.

Any failed hook or check, or a cancel, switches back the front-end it happened on and every one
already switched in this run, the last switched first, each drained and undrained around its
switch back; the modules still going end with the name of the check and the front-end. A module
whose switch fails on one front-end is switched back on the ones before it at once, as in any run
(all front-ends or none), and the others go on. When change control says the run must switch
nothing more (its window closed, a freeze began), no further front-end is drained or switched: the
ones switched go back the same way, and the modules end as stopped, their releases staged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from app.engine.events import EventSink, FrontendPhase, FrontendSwitched, RolloutPhase
from app.engine.frontend import farm, health
from app.engine.frontend.hooks import HookResult, Phase, run_hook
from app.engine.frontend.registry import Frontend
from app.engine.frontend.target import FrontendError, FrontendTarget, Prune, Staged, Switch
from app.engine.identity import utcnow
from app.engine.kinds import drains as drain_record
from app.engine.kinds.drains import DrainBook
from app.engine.runs.work import StopCheck

_log = logging.getLogger(__name__)
Log = Callable[[str, str], None]
SOAK_PAUSE = 1.0  # seconds between two rounds of checks during a soak
OUTPUT_LINES = 20  # lines of a hook's output the run's log shows (the front-end keeps it all, bounded)


@dataclass(frozen=True)
class Waiting:
    """A module staged on every front-end, waiting to be switched; ``staged`` by front-end name."""

    key: str
    module: str
    release_id: str
    config: bytes | None
    staged: Mapping[str, Staged]


@dataclass(frozen=True)
class Switched:
    """How a waiting module's switches ended: ``error`` None when it is live everywhere."""

    error: str | None
    frontends: Mapping[str, str]
    cancelled: bool = False  # switched back because the run was cancelled, not because of a failure
    rolling: bool = True  # switched one front-end at a time (else all together, then soaked)
    stopped: str | None = None  # why change control stopped the switch ("window-closed"), if it did


@dataclass(frozen=True)
class SwitchPlan:
    """How a run switches: one front-end at a time or all, and the soak after (0: none)."""

    run_id: int
    rolling: bool
    soak: float
    keep: int


@dataclass(frozen=True)
class _Stop:
    """Why the switch stopped: a failed hook or check, a cancel, or change control."""

    problem: str
    cancelled: bool = False
    stopped: str | None = None  # change control's reason: its window closed, a freeze began


class FarmSwitch:
    """One run's switch of its waiting modules over its front-ends' targets, with hooks and checks."""

    def __init__(
        self,
        frontends: Sequence[Frontend],
        targets: Sequence[FrontendTarget],
        waiting: Sequence[Waiting],
        plan: SwitchPlan,
        *,
        drains: DrainBook,
        log: Log,
        emit: EventSink,
        cancel: threading.Event,
        stop: StopCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        by_name = {frontend.name: frontend for frontend in frontends}
        self._targets = list(targets)
        self._frontend = {t.name: by_name.get(t.name, Frontend(0, t.name, t.location)) for t in targets}
        self._waiting = list(waiting)
        self._plan = plan
        self._drains = drains
        self._log = log
        self._emit = emit
        self._cancel = cancel
        self._stop = stop  # change control: when to switch nothing more
        self._clock = clock
        self._pause = pause
        self._states = {w.key: {t.name: farm.STAGED for t in targets} for w in waiting}
        self._errors: dict[str, str] = {}
        self._going = list(waiting)
        self._switched: list[FrontendTarget] = []  # in the order they switched
        self._drained: Frontend | None = None  # the one front-end drained now, if any

    def run(self) -> dict[str, Switched]:
        """Switch every waiting module, or switch back; how each ended, by module key."""
        stop = self._rolling() if self._plan.rolling else self._whole()
        halted = {w.key for w in self._going} if stop is not None else set()
        if stop is not None:
            self._switch_back_all(stop)
        self._prune()
        cancelled = stop is not None and stop.cancelled
        stopped = stop.stopped if stop is not None else None
        return {
            w.key: Switched(
                self._errors.get(w.key),
                self._states[w.key],
                cancelled and w.key in self._errors,
                self._plan.rolling,
                stopped if w.key in halted else None,
            )
            for w in self._waiting
        }

    # -- the two ways through the farm ----------------------------------------------------------

    def _rolling(self) -> _Stop | None:
        for target in self._targets:
            if not self._going:
                return None
            frontend = self._frontend[target.name]
            stop = self._cancelled() or self._stopped() or self._drain(frontend)
            if stop is not None:
                return stop
            self._switch(target)
            stop = self._healthy_after_switch(target)
            if stop is None and self._plan.soak:
                stop = self._soak([target])
            if stop is not None:
                return stop
            self._phase(frontend, RolloutPhase.HEALTHY)
            stop = self._undrain(frontend)
            if stop is not None:
                return stop
        return None

    def _whole(self) -> _Stop | None:
        stop = self._stopped()
        if stop is not None:
            return stop
        for target in self._targets:
            if self._going:
                self._switch(target)
        for target in list(self._switched):
            stop = self._cancelled() or self._healthy_after_switch(target)
            if stop is not None:
                return stop
        stop = self._soak(self._switched) if self._plan.soak and self._going else None
        if stop is None:
            for target in self._switched:
                self._phase(self._frontend[target.name], RolloutPhase.HEALTHY)
        return stop

    # -- the steps on one front-end -------------------------------------------------------------

    def _drain(self, frontend: Frontend) -> _Stop | None:
        if not frontend.drain_cmd:
            return None
        self._drains.drained(frontend)  # recorded first: a run that dies now still undrains it
        self._drained = frontend
        result = self._hook(frontend, frontend.drain_cmd, Phase.DRAIN)
        problem = result.problem(f"drain command of front-end {frontend.name}")
        if problem is not None:
            self._phase(frontend, RolloutPhase.FAILED, problem=problem)
            return _Stop(problem)
        self._phase(frontend, RolloutPhase.DRAINED)
        return None

    def _undrain(self, frontend: Frontend) -> _Stop | None:
        if frontend.undrain_cmd:
            result = self._hook(frontend, frontend.undrain_cmd, Phase.UNDRAIN)
            problem = result.problem(f"undrain command of front-end {frontend.name}")
            if problem is not None:
                self._phase(frontend, RolloutPhase.FAILED, problem=problem)
                return _Stop(problem)
        if self._drained is frontend:
            self._drains.undrained(frontend)
            self._drained = None
        if frontend.undrain_cmd or frontend.drain_cmd:
            self._phase(frontend, RolloutPhase.UNDRAINED)
        return None

    def _switch(self, target: FrontendTarget) -> None:
        """Switch the modules still going on ``target``; one that fails there goes back everywhere."""
        self._phase(self._frontend[target.name], RolloutPhase.SWITCHING)
        going = self._going
        problems = farm.switch_on(target, [Switch(w.module, w.release_id, w.config) for w in going])
        failed = []
        for w, problem in zip(going, problems, strict=True):
            self._states[w.key][target.name] = farm.LIVE if problem is None else farm.FAILED
            if problem is not None:
                self._errors[w.key] = problem.message
                failed.append(w)
        self._going = [w for w in going if w.key not in self._errors]
        self._put_back(self._switched, failed)
        self._switched.append(target)

    def _healthy_after_switch(self, target: FrontendTarget) -> _Stop | None:
        frontend = self._frontend[target.name]
        why = _flush(target)
        if why is not None:
            self._emit(FrontendSwitched(self._plan.run_id, target.name, len(self._going), False, why, utcnow()))
            return _Stop(why)
        self._phase(frontend, RolloutPhase.HEALTH)
        result = health.wait_until_healthy(
            frontend,
            self._modules_on(target),
            self._plan.run_id,
            stop=self._cancel.is_set,
            clock=self._clock,
            pause=self._pause,
        )
        if self._cancel.is_set():
            return self._cancelled()  # the checks stopped trying: they did not fail
        self._note_checks(frontend, result)
        self._emit(
            FrontendSwitched(
                self._plan.run_id,
                target.name,
                len(self._going),
                health.has_checks(frontend),
                result.problem,
                utcnow(),
            )
        )
        if not result.ok and result.problem is not None:
            self._phase(frontend, RolloutPhase.FAILED, problem=result.problem)
            return _Stop(result.problem)
        return self._cancelled()

    def _soak(self, now_switched: Sequence[FrontendTarget]) -> _Stop | None:
        """Every front-end switched so far passes its checks every time, until the soak ends."""
        for target in now_switched:
            self._phase(self._frontend[target.name], RolloutPhase.SOAKING, seconds=self._plan.soak)
        deadline = self._clock() + self._plan.soak
        while True:
            for target in self._switched:
                frontend = self._frontend[target.name]
                if not health.has_checks(frontend):
                    continue
                result = health.check_once(frontend, self._modules_on(target), self._plan.run_id)
                self._note_checks(frontend, result)
                if result.problem is not None:
                    problem = f"during the soak, {result.problem}"
                    self._phase(frontend, RolloutPhase.FAILED, problem=problem)
                    return _Stop(problem)
            stop = self._cancelled()
            left = deadline - self._clock()
            if stop is not None or left <= 0:
                return stop
            self._pause(min(SOAK_PAUSE, left))

    # -- switching back ---------------------------------------------------------------------------

    def _switch_back_all(self, stop: _Stop) -> None:
        """Every front-end switched in this run back, the last first, each through its hooks."""
        self._errors.update((w.key, stop.problem) for w in self._going)
        going, self._going = self._going, []
        self._log("error", f"{stop.problem}: switching back the front-ends this run switched")
        drained = self._drained
        if drained is not None and all(t.name != drained.name for t in self._switched):
            self._undrain(drained)  # its drain failed: nothing of it was switched
        for target in reversed(self._switched):
            frontend = self._frontend[target.name]
            if self._drained is None:
                if self._drain(frontend) is not None:
                    self._log("warning", f"front-end {frontend.name}: switching back all the same")
            elif self._drained is not frontend:
                self._log(
                    "warning",
                    f"front-end {frontend.name}: switched back without its drain, since front-end "
                    f"{self._drained.name} could not be undrained and two are never drained at once",
                )
            self._put_back([target], going)
            self._phase(frontend, RolloutPhase.SWITCHED_BACK, problem=stop.problem)
            if self._drained is frontend:
                self._undrain(frontend)
        if self._drained is not None:
            self._log("error", f"front-end {self._drained.name} is still drained: the next command undrains it")

    def _put_back(self, targets: Sequence[FrontendTarget], modules: Sequence[Waiting]) -> None:
        """Put back, on each of ``targets``, what was live there before ``modules`` were staged."""
        for target in targets:
            back = [w for w in reversed(modules) if target.name in w.staged]
            if not back:
                continue
            changes = [
                Switch(w.module, w.staged[target.name].previous_release, w.staged[target.name].previous_config)
                for w in back
            ]
            for w, problem in zip(back, farm.switch_on(target, changes), strict=True):
                self._states[w.key][target.name] = farm.SWITCHED_BACK if problem is None else farm.FAILED
            _flush(target)

    # -- what every step shares -----------------------------------------------------------------

    def _modules_on(self, target: FrontendTarget) -> list[str]:
        """The modules this run switched on ``target`` and still going: a {module} URL checks each."""
        return [w.module for w in self._going if self._states[w.key][target.name] == farm.LIVE]

    def _cancelled(self) -> _Stop | None:
        if not self._cancel.is_set():
            return None
        return _Stop("the run was cancelled while switching the front-ends", cancelled=True)

    def _stopped(self) -> _Stop | None:
        """Change control's word before a front-end is drained or switched: go on, or why not."""
        reason = self._stop() if self._stop is not None else None
        if reason is None:
            return None
        return _Stop(f"{reason}: the run switches nothing more", stopped=reason)

    def _hook(self, frontend: Frontend, command: str, phase: Phase) -> HookResult:
        result = run_hook(
            command, frontend=frontend.name, run_id=self._plan.run_id, phase=phase, limit=drain_record.HOOK_LIMIT
        )
        self._drains.note(frontend, result)
        self._show_output(frontend, phase.value, result.output)  # how it ended is the phase that follows
        return result

    def _note_checks(self, frontend: Frontend, result: health.HealthResult) -> None:
        if not health.has_checks(frontend):
            return
        checks = " ; ".join(check for check in (frontend.health_cmd, frontend.health_url) if check)
        self._drains.note(frontend, health.as_hook_result(result, checks))
        if not result.ok:
            self._show_output(frontend, "health", result.output)

    def _show_output(self, frontend: Frontend, phase: str, output: str) -> None:
        lines = [line for line in output.splitlines() if line.strip()]
        for line in lines[:OUTPUT_LINES]:
            self._log("info", f"front-end {frontend.name} {phase}: {line}")
        if len(lines) > OUTPUT_LINES:
            self._log("info", f"front-end {frontend.name} {phase}: ... {len(lines) - OUTPUT_LINES} more line(s)")
        _log.info("front-end %s %s output:\n%s", frontend.name, phase, output)

    def _phase(
        self, frontend: Frontend, phase: RolloutPhase, *, seconds: float | None = None, problem: str | None = None
    ) -> None:
        self._emit(FrontendPhase(self._plan.run_id, frontend.name, phase, utcnow(), seconds, problem))

    def _prune(self) -> None:
        for target in self._targets:
            if self._going:
                target.prune(
                    [
                        Prune(w.module, farm.protected(w.release_id, w.staged.get(target.name)), self._plan.keep)
                        for w in self._going
                    ]
                )


def _flush(target: FrontendTarget) -> str | None:
    try:
        target.flush()
    except FrontendError as error:
        return error.message
    return None
