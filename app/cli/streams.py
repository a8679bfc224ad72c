"""Standard output and error that may go away at any time: what a command does never depends on them.

A reader can leave while a command works (``deploycenter --unattended deploy-all | head -3``, a CI
log collector that died), and a script can start us with stdout or stderr closed. Neither may
change what a run does or what it records. So every write to them goes through ``write``: text
that cannot be written is dropped, the stream's file descriptor is pointed at ``/dev/null`` so
that nothing written later fails either (Python's own flush at exit included, which would
otherwise turn the exit code into 120), the loss is noted in the log file, and the command goes
on to the exit code its outcome gives.

SIGPIPE stays ignored, as Python sets it: a reader that goes away is an error on write, handled
here, never a signal that kills the process in the middle of a run.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

log = logging.getLogger("deploycenter")


def reserve_standard_fds() -> None:
    """Open ``/dev/null`` as stdin, stdout and stderr where they are closed.

    Otherwise the next file opened (the database, a front-end's file) would take that number,
    and whatever writes to "stdout", or a command run for a hook, would write into that file.
    """
    for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, mode)  # the lowest free number: ``fd`` itself
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    # Python leaves these None when their descriptor was closed at start-up.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (lives as long as the process)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


def write(stream: TextIO | None, text: str) -> bool:
    """Write ``text`` and flush it; False when no one reads the stream any more (it then leads nowhere)."""
    if stream is None:
        return False
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError) as error:  # a closed pipe, a terminal gone, a full disk, a closed file
        lead_nowhere(stream, error)
        return False
    return True


def lead_nowhere(stream: TextIO, error: BaseException) -> None:
    """Point ``stream``'s file descriptor at ``/dev/null``: what it still buffers, and every later
    write, then goes nowhere without an error."""
    log.warning("output to %s was lost (%s); the command went on", getattr(stream, "name", "a stream"), error)
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return  # not a file (a test's capture): nothing buffered for Python's exit to fail on
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
