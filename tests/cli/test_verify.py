"""``verify`` with many modules drifting for one reason: one line per front-end and cause, not per module.

The text names each front-end, the cause, how many modules it touches and the first few of them;
``--json`` keeps every drift with the keys checks read, and adds the same grouping.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.conftest import Cli

MODULES = [f"Mod{number:02d}" for number in range(12)]


@pytest.fixture
def farm(cli: Cli, tmp_path: Path) -> tuple[Cli, Path, Path]:
    fe1, fe2 = tmp_path / "fe1", tmp_path / "fe2"
    assert cli("init", "--frontend", str(fe1), "--frontend", str(fe2)).code == 0
    bundles = [str(write_bundle(tmp_path / "b", name)) for name in MODULES]
    assert cli("publish", *bundles).code == 0
    assert cli("verify").code == 0
    return cli, fe1, fe2


def tamper(frontend: Path, module: str) -> None:
    release = next((frontend / module / "releases").iterdir())
    (release / "static" / "index.html").write_text("tampered")


def test_a_missing_front_end_is_one_line_with_a_count_and_the_first_modules(farm: tuple[Cli, Path, Path]) -> None:
    cli, fe1, fe2 = farm
    shutil.rmtree(fe2)
    tamper(fe1, "Mod03")

    result = cli("verify")

    assert result.code == 1
    lines = result.out.strip().splitlines()
    assert len(lines) <= 4, result.out
    [missing] = [line for line in lines if str(fe2) in line]
    assert "front-end folder missing" in missing and "12 modules" in missing
    assert "Mod00, Mod01, Mod02, Mod03, Mod04 and 7 more" in missing
    [changed] = [line for line in lines if str(fe1) in line]
    assert "1 module" in changed and "Mod03" in changed and "static/index.html changed" in changed


def test_json_keeps_every_drift_and_adds_the_groups(farm: tuple[Cli, Path, Path]) -> None:
    cli, fe1, fe2 = farm
    shutil.rmtree(fe2)
    tamper(fe1, "Mod03")
    tamper(fe1, "Mod07")

    document = cli("verify", "--json").json()

    assert document["ok"] is False
    drift = document["drift"]
    assert len(drift) == 14
    assert {(d["frontend"], d["module"]) for d in drift} >= {(str(fe2), name) for name in MODULES}
    assert all({"frontend", "module", "problem"} <= set(d) for d in drift)
    groups = {(g["frontend"], g["cause"]): g for g in document["drift_groups"]}
    assert groups[(str(fe2), "front-end folder missing")]["count"] == 12
    assert groups[(str(fe2), "front-end folder missing")]["modules"] == MODULES
    assert groups[(str(fe1), "files changed")]["modules"] == ["Mod03", "Mod07"]


def test_no_drift_says_so_in_one_line(farm: tuple[Cli, Path, Path]) -> None:
    cli, _fe1, _fe2 = farm
    result = cli("verify")
    assert result.code == 0 and result.out.strip() == "verified 24 module release(s) across front-ends: no drift"
