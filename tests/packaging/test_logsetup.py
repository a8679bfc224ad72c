"""The shared rotating log file: where it goes, when it is created, and what the CLI leaves in it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import logsetup
from app.logsetup import LOG_FILE_NAME, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in logsetup.APP_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_default_folder_is_the_user_log_dir(tmp_path: Path) -> None:
    # conftest points XDG_STATE_HOME at the test's own folder.
    assert logsetup.default_log_dir() == tmp_path / "xdg-state" / "deploycenter" / "log"


def test_environment_variable_overrides_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYCENTER_LOG_DIR", str(tmp_path / "logs"))
    assert configure_logging() == tmp_path / "logs" / LOG_FILE_NAME


def test_nothing_is_created_before_the_first_record(tmp_path: Path) -> None:
    path = configure_logging(tmp_path / "logs")
    assert not path.parent.exists()
    logging.getLogger("app.engine.frontend.farm").info("deployed %s", "Orders")
    assert "INFO app.engine.frontend.farm: deployed Orders" in path.read_text(encoding="utf-8")


def test_debug_records_and_library_info_stay_out(tmp_path: Path) -> None:
    path = configure_logging(tmp_path)
    logging.getLogger("app.gui").debug("noise")
    logging.getLogger("alembic.runtime.migration").info("Running upgrade")
    logging.getLogger("sqlalchemy.pool").warning("pool trouble")
    text = path.read_text(encoding="utf-8")
    assert "noise" not in text and "Running upgrade" not in text
    assert "pool trouble" in text


def test_calling_again_keeps_one_handler_and_can_move_the_file(tmp_path: Path) -> None:
    configure_logging(tmp_path / "a")
    configure_logging(tmp_path / "a")
    moved = configure_logging(tmp_path / "b")
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logsetup._LazyRotatingFileHandler)]
    assert len(ours) == 1
    logging.getLogger("deploycenter").error("after the move")
    assert moved.is_file() and not (tmp_path / "a").exists()


def test_the_file_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logsetup, "MAX_BYTES", 2_000)
    path = configure_logging(tmp_path)
    for number in range(100):
        logging.getLogger("app").info("line %03d %s", number, "x" * 40)
    assert path.with_name(LOG_FILE_NAME + ".1").is_file()
    assert path.stat().st_size <= 2_000


def test_an_unwritable_path_is_one_warning_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    configure_logging(tmp_path / "file" / "logs")
    logging.getLogger("app").error("first")
    logging.getLogger("app").error("second")
    err = capsys.readouterr().err
    assert err.count("cannot write the log file") == 1
    assert "Traceback" not in err


def test_an_unexpected_cli_error_is_one_line_and_a_logged_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.__main__ import main
    from app.cli import view_commands

    def broken(*_args: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(view_commands, "status", broken)
    code = main(["--unattended", "status", "--data-dir", str(tmp_path / "env")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == ["deploycenter: error: internal error: RuntimeError: disk on fire"]
    log = (logsetup.default_log_dir() / LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "Traceback" in log and "RuntimeError: disk on fire" in log
