"""SIGKILL a publish after it recorded its new versions and before it compiled them.

Such a version could never be deployed: Deploy All skips a latest version with no compilation
(``not-prepared``) and nothing said why. The next command that opens the environment discards it
and says so on stderr, in the audit and on the run's items: the module is back at the version it
had, a module the publish created is gone again, and publishing the bundle again works.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

from app.engine.store.database import DATABASE_FILE
from tests.bundles import write_bundle
from tests.conftest import Cli
from tests.faults.scenery import frontend_problems

# Byte-compiling this takes a second or more: the kill lands while the first version compiles.
SLOW_CODE = "\n".join(f'value_{i} = {{"key": [{i}, {i} + 1, "text {i}"]}}' for i in range(40_000)) + "\n"


def kill_once_started(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the publish as soon as it says its run started (its versions are recorded then)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("run "):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    for stream in (proc.stdout, proc.stderr):
        assert stream is not None
        stream.close()


def uncompiled_versions(data_dir: Path) -> list[tuple[str, int]]:
    """The latest versions with no compilation at all, read straight from the file (nothing settled)."""
    connection = sqlite3.connect(f"file:{data_dir / DATABASE_FILE}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT m.name, v.number FROM module m JOIN module_version v ON v.id = m.latest_version_id "
            "WHERE m.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM compilation c WHERE c.module_version_id = v.id) "
            "ORDER BY m.name"
        ).fetchall()
        return [(str(name), int(number)) for name, number in rows]
    finally:
        connection.close()


def test_a_publish_killed_before_compiling_is_discarded_and_said_so(cli: Cli, tmp_path: Path) -> None:
    frontend = tmp_path / "fe"
    assert cli("init", "--frontend", str(frontend)).code == 0
    assert cli("publish", str(write_bundle(tmp_path / "v1", "Orders"))).code == 0
    orders = write_bundle(tmp_path / "v2", "Orders", files={"src/big.py": SLOW_CODE})
    fresh = write_bundle(tmp_path / "v1", "Fresh", files={"src/big.py": SLOW_CODE})

    kill_once_started(cli.spawn("publish", "--workers", "1", str(orders), str(fresh)))
    assert uncompiled_versions(cli.data_dir) == [("Fresh", 1), ("Orders", 2)], "killed before any compilation"
    assert frontend_problems([frontend]) == []

    settled = cli("status")
    assert settled.code == 0
    [notice] = settled.err.strip().splitlines()  # one line says how the dead run was settled
    assert "run 2 (publish)" in notice and "discarded" in notice, notice
    assert "Orders version 2 (back to version 1)" in notice and "Fresh version 1 (removed)" in notice, notice

    modules = {m["name"]: m for m in cli("modules", "--json").json()["modules"]}
    assert set(modules) == {"Orders"}
    assert modules["Orders"]["latest_version"] == 1 and modules["Orders"]["state"] == "deployed"
    run = cli("run", "2", "--json").json()["run"]
    assert run["status"] == "interrupted"
    assert {item["module"]: item["reason"] for item in run["items"]} == {
        "Orders": "interrupted",
        "Fresh": "interrupted",
    }
    assert all("discarded" in item["message"] for item in run["items"]), run["items"]
    [recovered] = [e for e in cli("audit", "--json").json()["audit"] if e["operation"] == "recover"]
    assert "discarded" in recovered["detail"] and "Orders version 2" in recovered["detail"], recovered
    assert cli("status").err == "", "said once"

    plan = cli("deploy-all", "--dry-run", "--json").json()["plan"]["items"]
    assert [(item["module"], item["reason"]) for item in plan] == [("Orders", "already-deployed")]
    assert cli("verify").code == 0

    again = cli("publish", str(orders), str(fresh))
    assert again.code == 0, again.err
    modules = {m["name"]: m for m in cli("modules", "--json").json()["modules"]}
    assert modules["Orders"]["latest_version"] == 3, "a discarded version's number is not given again"
    assert modules["Fresh"]["latest_version"] == 1 and modules["Fresh"]["state"] == "deployed"
