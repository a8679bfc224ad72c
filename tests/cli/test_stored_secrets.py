"""A bundle's secret default values are stored only in the database and written only to config.json:
no stored source zip and no artifact holds them, while artifacts stay reproducible, publish-solution
still compiles from the stored source, and the front-ends' config.json keeps the real values.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.conftest import Cli

SECRETS = ("hunter2-smtp", "4321-pin")


def secret_bundle(root: Path, name: str = "Mailer") -> Path:
    config = {"SmtpPassword": SECRETS[0], "Pin": SECRETS[1], "Host": "mx.example", "Token": ""}
    folder = write_bundle(root, name, config=config)
    manifest = folder / "module.toml"
    manifest.write_text('# the mail sender\nsecret_keys = ["Pin"]\n' + manifest.read_text(), encoding="utf-8")
    return folder


def stored_texts(data_dir: Path) -> dict[str, bytes]:
    """Every stored file's bytes and, for a zip, each member's bytes, by where they were found."""
    found: dict[str, bytes] = {}
    for path in (data_dir / "artifacts").rglob("*"):
        if not path.is_file():
            continue
        found[str(path)] = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(io.BytesIO(found[str(path)])) as archive:
                found.update({f"{path}!{name}": archive.read(name) for name in archive.namelist()})
    return found


def holding_a_secret(data_dir: Path) -> list[str]:
    return sorted(where for where, data in stored_texts(data_dir).items() if any(s.encode() in data for s in SECRETS))


def live_release(frontend: Path, module: str) -> dict[str, object]:
    release = (frontend / module / "CURRENT").read_text().strip()
    info: dict[str, object] = json.loads((frontend / module / "releases" / release / ".release.json").read_text())
    return info


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    return cli


def test_no_stored_source_nor_artifact_holds_a_secret_default(env: Cli, tmp_path: Path) -> None:
    assert env("publish", str(secret_bundle(tmp_path / "b"))).code == 0
    assert holding_a_secret(env.data_dir) == []
    config = json.loads((tmp_path / "fe" / "Mailer" / "config.json").read_text())
    assert config == {"SmtpPassword": SECRETS[0], "Pin": SECRETS[1], "Host": "mx.example", "Token": ""}


def test_the_same_bundle_still_gives_the_same_artifact_and_publish_solution_the_same_config(
    env: Cli, tmp_path: Path
) -> None:
    bundle = secret_bundle(tmp_path / "b")
    assert env("publish", str(bundle)).code == 0
    first = live_release(tmp_path / "fe", "Mailer")
    assert env("publish", str(bundle)).code == 0
    assert live_release(tmp_path / "fe", "Mailer")["artifact_sha256"] == first["artifact_sha256"]

    solved = env("publish-solution", "Mailer", "--json")
    assert solved.code == 0, solved.err
    assert live_release(tmp_path / "fe", "Mailer")["artifact_sha256"] == first["artifact_sha256"]
    config = json.loads((tmp_path / "fe" / "Mailer" / "config.json").read_text())
    assert config["SmtpPassword"] == SECRETS[0] and config["Pin"] == SECRETS[1]
    assert holding_a_secret(env.data_dir) == []


def test_applied_values_still_override_the_defaults(env: Cli, tmp_path: Path) -> None:
    assert env("publish", str(secret_bundle(tmp_path / "b"))).code == 0
    assert env("apply-config", "Mailer", "Host=mx2.example").code == 0
    assert env("publish-solution", "Mailer").code == 0
    config = json.loads((tmp_path / "fe" / "Mailer" / "config.json").read_text())
    assert config == {"SmtpPassword": SECRETS[0], "Pin": SECRETS[1], "Host": "mx2.example", "Token": ""}
