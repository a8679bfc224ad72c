"""One rotating log file for both front-ends, in the platformdirs user log dir.

The window and ``--unattended`` write to the same file, so a problem seen in either leaves its
details (tracebacks included) in one place, while the terminal and the window show one clear line.
Nothing touches the disk until the first record is written.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

LOG_FILE_NAME = "deploycenter.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 5
# The loggers the application writes to: ``app.*`` modules and the CLI's "deploycenter" logger.
APP_LOGGERS = ("app", "deploycenter")
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def default_log_dir() -> Path:
    """``DEPLOYCENTER_LOG_DIR`` when set, else the user log dir (``~/.local/state/deploycenter/log``)."""
    override = os.environ.get("DEPLOYCENTER_LOG_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_log_dir

    return Path(user_log_dir("deploycenter", appauthor=False))


class _LazyRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates its folder and file only when a record is written, and never raises about it."""

    def _open(self):  # type: ignore[no-untyped-def]  # typeshed gives no return type to override
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        """A log that cannot be written is reported once, in one line, and then left alone."""
        if getattr(self, "_reported", False):
            return
        self._reported = True
        error = sys.exc_info()[1]
        try:
            print(f"deploycenter: warning: cannot write the log file {self.baseFilename}: {error}", file=sys.stderr)
        except (OSError, ValueError):
            pass  # stderr is gone too: logging must never fail the code that logs


def _our_handler(root: logging.Logger) -> _LazyRotatingFileHandler | None:
    for handler in root.handlers:
        if isinstance(handler, _LazyRotatingFileHandler):
            return handler
    return None


def configure_logging(log_dir: Path | None = None) -> Path:
    """Send the application's INFO records, and every library's warnings, to the rotating log file.

    Safe to call more than once: a second call with the same folder changes nothing, one with
    another folder moves the log there. Returns the log file's path.
    """
    path = ((log_dir or default_log_dir()) / LOG_FILE_NAME).absolute()
    root = logging.getLogger()
    current = _our_handler(root)
    if current is not None and Path(current.baseFilename) == path:
        return path
    if current is not None:
        root.removeHandler(current)
        current.close()
    handler = _LazyRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    for name in APP_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    return path
