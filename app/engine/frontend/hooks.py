"""A front-end's hook commands: what they may be, and running one on this machine (rules.md#hooks).

A hook is a shell command a user gives a front-end (``--drain-cmd``, ``--undrain-cmd``,
``--health-cmd``): it runs on this machine through ``/bin/sh -c``, with the front-end's name, the
run's id and the phase in its environment, and within a time limit. A hook that outlives its
limit is killed with every process it started (it runs in a process group of its own) and
counts as failed. Its output, stdout and stderr together, is kept only up to a bounded size: the
first and last part of it, whatever the command prints.

A hook is refused when it is given, not when it would run: one that is blank, holds a NUL or a
line break (a second line would be a second command nobody sees in ``frontend list``), or that
``/bin/sh -n`` does not parse (an unclosed quote, a stray ``fi``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from app.engine.errors import BadInputError

SHELL = "/bin/sh"
FRONTEND_VARIABLE = "DEPLOYCENTER_FRONTEND"
RUN_VARIABLE = "DEPLOYCENTER_RUN"  # empty when the hook runs outside a run ("test now")
PHASE_VARIABLE = "DEPLOYCENTER_PHASE"
OUTPUT_HEAD = 2048  # bytes kept from the start of a hook's output
OUTPUT_TAIL = 2048  # and from its end; what lies between is left out, and said so
KILL_GRACE = 2.0  # seconds between asking a timed-out hook to stop and killing it
_SHELL_PREFIX = re.compile(r"^(?:\S*sh:\s*)?(?:(?:line )?\d+:\s*)?")  # "/bin/sh: 1: " before the shell's words
COMMAND_LIMIT = 4000  # characters a hook may have: a command line, not a script


class Phase(StrEnum):
    """What a hook is run for, as ``DEPLOYCENTER_PHASE`` tells it."""

    DRAIN = "drain"
    HEALTH = "health"
    UNDRAIN = "undrain"


@dataclass(frozen=True)
class HookResult:
    """How one hook ended: ``exit_code`` None when it could not start or was killed at its limit."""

    command: str
    phase: Phase
    exit_code: int | None
    output: str  # stdout and stderr together, cut to a bounded size
    seconds: float
    timed_out: bool = False
    error: str | None = None  # why it could not start

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_json(self, at: str) -> dict[str, object]:
        """What a front-end keeps of its last hook, ``at`` an ISO time."""
        return {
            "phase": self.phase.value,
            "command": self.command,
            "at": at,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "output": self.output if self.error is None else self.error,
        }

    def problem(self, what: str) -> str | None:
        """One line saying why ``what`` (e.g. "drain command of front-end web2") failed; None when it passed."""
        if self.ok:
            return None
        if self.error is not None:
            return f"{what} could not start: {self.error}"
        if self.timed_out:
            return f"{what} did not finish within {self.seconds:g} s and was stopped"
        said = [line for line in self.output.strip().splitlines() if line.strip()]
        tail = f": {said[-1].strip()[:200]}" if said else ""
        return f"{what} failed (exit {self.exit_code}){tail}"


def check_command(text: str, option: str) -> str:
    """A hook as given to ``option``, checked so that it can run; ``BadInputError`` names what is wrong."""
    command = text.strip()
    if not command:
        raise BadInputError(f"{option} needs a command; to remove one, use --clear {option.removeprefix('--')}")
    if "\x00" in command or "\n" in command or "\r" in command:
        raise BadInputError(f"{option} takes a command on one line, without NUL characters")
    if len(command) > COMMAND_LIMIT:
        raise BadInputError(f"{option} is {len(command)} characters long; at most {COMMAND_LIMIT} (call a script)")
    try:
        parsed = subprocess.run(
            [SHELL, "-n", "-c", command], capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BadInputError(f"{option}: the shell {SHELL} could not check the command: {error}") from None
    if parsed.returncode != 0:
        said = parsed.stderr.decode("utf-8", "replace").strip().splitlines()
        why = _SHELL_PREFIX.sub("", said[-1]) if said else f"exit {parsed.returncode}"
        raise BadInputError(f"{option} is not a command the shell can run: {why}")
    return command


def hook_environment(frontend: str, run_id: int | None, phase: Phase) -> dict[str, str]:
    return {
        **os.environ,
        FRONTEND_VARIABLE: frontend,
        RUN_VARIABLE: "" if run_id is None else str(run_id),
        PHASE_VARIABLE: phase.value,
    }


def run_hook(command: str, *, frontend: str, run_id: int | None, phase: Phase, limit: float) -> HookResult:
    """Run ``command`` through the shell for ``frontend``; killed (its whole process group) past ``limit`` s."""
    began = time.monotonic()
    try:
        process = subprocess.Popen(
            [SHELL, "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=hook_environment(frontend, run_id, phase),
            start_new_session=True,  # its own process group, so that a kill reaches what it started
        )
    except OSError as error:
        return HookResult(command, phase, None, "", 0.0, error=error.strerror or str(error))
    output = _BoundedOutput()
    reader = threading.Thread(target=output.read_all, args=(process,), name="hook-output", daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop_group(process)
    finally:
        # A process that left the group and holds the pipe open must not hold the run up.
        reader.join(timeout=KILL_GRACE)
    seconds = time.monotonic() - began
    code = None if timed_out else process.returncode
    return HookResult(command, phase, code, output.text(), limit if timed_out else seconds, timed_out)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the hook's process group, a moment to stop, then SIGKILL to whatever is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass  # the whole group is gone already
        if sig == signal.SIGTERM:
            try:
                process.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                pass
    process.wait()


class _BoundedOutput:
    """The first and last bytes of a stream, and how many were left out between them."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._dropped = 0

    def read_all(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        with process.stdout:
            while chunk := os.read(process.stdout.fileno(), 65536):
                self._add(chunk)

    def _add(self, chunk: bytes) -> None:
        room = OUTPUT_HEAD - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(self._tail[0]) >= OUTPUT_TAIL:
            self._dropped += len(self._tail[0])
            self._tail_size -= len(self._tail.popleft())

    def text(self) -> str:
        tail = b"".join(self._tail)
        dropped = self._dropped + max(0, len(tail) - OUTPUT_TAIL)
        tail = tail[-OUTPUT_TAIL:]
        middle = f"\n[... {dropped} bytes left out ...]\n".encode() if dropped else b""
        return (bytes(self._head) + middle + tail).decode("utf-8", "replace")
