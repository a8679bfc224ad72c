"""``metrics`` and ``policy set --metrics-file``: the exposition parsed back with prometheus-client's
own parser, read from the record alone, and rewritten atomically when each run ends.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.bundles import write_bundle
from tests.conftest import Cli

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    fe = [str(tmp_path / "fe1"), str(tmp_path / "fe2"), str(tmp_path / "fe3")]
    assert cli("init", "--frontend", fe[0], "--frontend", fe[1], "--frontend", fe[2]).code == 0
    assert cli("frontend", "disable", "fe3").code == 0
    return cli


def test_metrics_describe_the_record_in_prometheus_text(env: Cli, tmp_path: Path) -> None:
    bundles = tmp_path / "b"
    assert env("publish", str(write_bundle(bundles, "Orders")), str(write_bundle(bundles, "Customers"))).code == 0
    assert env("publish", str(write_bundle(bundles, "Broken", files={"bad.py": "def broken(:\n"}))).code == 1
    runs = env("runs", "--json").json()["runs"]
    result = env("metrics", "--json")  # its own format whatever --json says
    assert result.code == 0
    found = samples(result.out)
    assert value(found, "deploycenter_runs_total", kind="publish", status="succeeded") == 1
    assert value(found, "deploycenter_runs_total", kind="publish", status="failed") == 1
    assert value(found, "deploycenter_runs_total", kind="deploy-all", status="failed") == 0, "zeros are exposed"
    assert value(found, "deploycenter_runs_active", kind="publish") == 0
    assert value(found, "deploycenter_modules", state="deployed") == 2
    assert value(found, "deploycenter_modules", state="compilation-failed") == 1
    assert value(found, "deploycenter_modules", state="ready") == 0
    assert value(found, "deploycenter_frontends", state="enabled") == 2
    assert value(found, "deploycenter_frontends", state="disabled") == 1
    newest = runs[0]
    finished = datetime.fromisoformat(newest["finished_at"]).timestamp()
    assert abs(value(found, "deploycenter_last_run_timestamp_seconds") - finished) < 1
    assert value(found, "deploycenter_run_duration_seconds", kind="publish") >= 0
    head = env("audit", "verify", "--json").json()["head"]
    assert value(found, "deploycenter_audit_last_entry_id") == int(head.split(":")[0])
    assert value(found, "deploycenter_info", environment="env", platform_version="11.18.1") == 1


def test_metrics_come_from_the_record_without_reaching_a_front_end(env: Cli, tmp_path: Path) -> None:
    assert env("publish", str(write_bundle(tmp_path / "b", "Orders"))).code == 0
    before = samples(env("metrics").out)
    for name in ("fe1", "fe2"):
        shutil.rmtree(tmp_path / name)
    after = samples(env("metrics").out)
    audit = "deploycenter_audit_last_entry_id", ()
    assert {k: v for k, v in after.items() if k != audit} == {k: v for k, v in before.items() if k != audit}


def test_every_run_rewrites_the_metrics_file_when_it_ends(env: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "textfile"
    folder.mkdir()
    target = folder / "deploycenter.prom"
    set_ = env("policy", "set", "--metrics-file", str(target), "--json")
    assert set_.code == 0 and set_.json() == {"policy": {"approvals_required": 0, "metrics_file": str(target)}}
    assert value(samples(target.read_text()), "deploycenter_runs_total", kind="publish", status="succeeded") == 0
    assert env("publish", str(write_bundle(tmp_path / "b", "Orders"))).code == 0
    written = samples(target.read_text())
    assert value(written, "deploycenter_runs_total", kind="publish", status="succeeded") == 1
    assert value(written, "deploycenter_modules", state="deployed") == 1
    assert [p.name for p in folder.iterdir()] == ["deploycenter.prom"], "replaced by a rename, no leftovers"
    assert env("policy", "set", "--clear-metrics-file").code == 0
    assert env("publish", str(write_bundle(tmp_path / "b", "Customers"))).code == 0
    assert value(samples(target.read_text()), "deploycenter_runs_total", kind="publish", status="succeeded") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--metrics-file", "{tmp}/missing/deploycenter.prom"), "does not exist"),
        (("--metrics-file", "{tmp}"), "is a folder"),
        ((), "give at least one setting"),
        (("--metrics-file", "{tmp}/x.prom", "--clear-metrics-file"), "not allowed with argument"),
    ],
)
def test_a_bad_metrics_path_is_exit_2_in_one_line_and_stores_nothing(
    env: Cli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    before = env("audit", "--json").json()["audit"]
    result = env("policy", "set", *(a.format(tmp=tmp_path) for a in args), "--json")
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1 and message in result.err
    assert message in json.loads(result.out)["error"]
    assert env("audit", "--json").json()["audit"] == before
    assert not (tmp_path / "x.prom").exists()
