"""Secrets and stored data (rules.md#secrets): no secret value in any output, a private data dir and database."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from app.engine.store.database import DATABASE_FILE
from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli

SECRETS = ("hunter2", "4321", "s3cr3t-t0k3n")


@pytest.fixture
def vault(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    config = {"Password": "", "Pin": "0000", "AuthToken": "", "User": "me"}
    folder = write_bundle(tmp_path / "b", "Vault", config=config)
    manifest = folder / "module.toml"
    manifest.write_text('secret_keys = ["Pin"]\n' + manifest.read_text(), encoding="utf-8")
    assert cli("publish", str(folder)).code == 0
    return cli


def log_text(tmp_path: Path) -> str:
    logs = list((tmp_path / "xdg-state").rglob("*.log*"))
    return "".join(path.read_text(encoding="utf-8", errors="replace") for path in logs)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)


def test_apply_config_never_shows_a_secret_value(vault: Cli, tmp_path: Path) -> None:
    values = ["Password=hunter2", "Pin=4321", "AuthToken=s3cr3t-t0k3n", "User=admin"]
    shown = vault("apply-config", "Vault", *values, "--json")
    assert shown.code == 0, shown
    assert shown.json()["config"] == {"Password": "***", "Pin": "***", "AuthToken": "***", "User": "admin"}
    text = vault("apply-config", "Vault", *values)
    assert text.code == 0 and "Password" in text.out
    audit = vault("audit", "--json")
    views = [vault(*view, "--json") for view in (("modules",), ("status",), ("runs",), ("run", "1"), ("verify",))]
    assert_no_secret(shown.out, shown.err, text.out, text.err, audit.out, *(v.out + v.err for v in views))
    assert_no_secret(log_text(tmp_path))
    # The module itself needs the real values: its front-end configuration has them.
    written = json.loads((tmp_path / "fe" / "Vault" / "config.json").read_text())
    assert written["Password"] == "hunter2" and written["Pin"] == "4321"


def test_refused_assignments_do_not_echo_a_value(vault: Cli, tmp_path: Path) -> None:
    one_error_line(vault("apply-config", "Vault", "=hunter2"), 2, "KEY=VALUE")
    one_error_line(vault("apply-config", "Vault", "Nope=hunter2", "--json"), 2, "Nope")
    assert_no_secret(vault("audit", "--json").out, log_text(tmp_path))
    assert "hunter2" not in vault("apply-config", "Vault", "=hunter2", "--json").out


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_data_dir_is_private_and_the_database_owner_only(vault: Cli) -> None:
    assert stat.S_IMODE(vault.data_dir.stat().st_mode) == 0o700
    for path in vault.data_dir.glob(DATABASE_FILE + "*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_looser_database_file_is_tightened_when_opened(vault: Cli) -> None:
    database = vault.data_dir / DATABASE_FILE
    database.chmod(0o644)
    assert vault("status").code == 0
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_a_secret_default_reaches_the_front_end_only_in_config_json(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    folder = write_bundle(tmp_path / "b", "Mailer", config={"SmtpPassword": "hunter2", "Pin": "4321", "Host": "mx"})
    manifest = folder / "module.toml"
    manifest.write_text('secret_keys = ["Pin"]\n' + manifest.read_text(), encoding="utf-8")
    assert cli("publish", str(folder)).code == 0
    holding = [
        path
        for path in (tmp_path / "fe").rglob("*")
        if path.is_file() and any(secret.encode() in path.read_bytes() for secret in SECRETS)
    ]
    assert holding == [tmp_path / "fe" / "Mailer" / "config.json"]
    build = json.loads(next((tmp_path / "fe" / "Mailer" / "releases").glob("*/.build.json")).read_text())
    assert build["config_defaults"] == {"SmtpPassword": "***", "Pin": "***", "Host": "mx"}
