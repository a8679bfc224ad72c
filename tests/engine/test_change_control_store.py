"""Change control in the database: the migration from the schema before it, on SQLite and
PostgreSQL, and two operators on one shared PostgreSQL, each connected as their own role: one
plans, the other approves from a second process, the first runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.control import settings
from app.engine.read import views
from app.engine.store.migrate import _config, current_revision, head_revision
from tests.bundles import write_bundle
from tests.conftest import REPO, child_env
from tests.pg import SUPERUSER, Cluster

CHANGE_CONTROL_TABLES = {"saved_plan", "plan_approval", "change_window", "change_freeze"}


def test_an_environment_from_before_change_control_migrates_to_it(tmp_path: Path, database_url: str | None) -> None:
    location = Location(tmp_path / "env", database_url)
    ctx = operations.init_environment(location, frontends=[str(tmp_path / "fe")])
    try:
        operations.publish(ctx, [write_bundle(tmp_path / "b", "Alpha")])
        config = _config()
        with ctx.db.engine.execution_options(deploycenter_write=True).begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert current_revision(ctx.db) == "0004"
        with ctx.db.engine.connect() as connection:
            schema = inspect(connection)
            assert not CHANGE_CONTROL_TABLES & set(schema.get_table_names())
            assert "approvals_required" not in {c["name"] for c in schema.get_columns("environment")}
    finally:
        ctx.close()
    ctx = open_context(location)  # opening migrates to the newest schema
    try:
        assert current_revision(ctx.db) == head_revision()
        state = views.status(ctx).change_control
        assert state is not None and state.approvals_required == 0 and state.changes_allowed
        settings.add_window(ctx, "Sat 22:00", 4, "Europe/Lisbon")
        assert [entry.window.start_text for entry in settings.windows(ctx)] == ["Sat 22:00"]
    finally:
        ctx.close()


def _role(cluster: Cluster, database: str, name: str) -> str:
    """A login role with the rights an operator needs on the environment's tables; its URL."""
    cluster.admin(f'CREATE ROLE "{name}" LOGIN')
    cluster.admin(f'GRANT CONNECT ON DATABASE "{database}" TO "{name}"')
    return f"postgresql+psycopg://{name}@127.0.0.1:{cluster.port}/{database}"


def _grant_tables(cluster: Cluster, database: str, roles: list[str]) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=cluster.port, user=SUPERUSER, dbname=database, autocommit=True
    ) as connection:
        for role in roles:
            connection.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
            connection.execute(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def _run(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env["DEPLOYCENTER_DATABASE_URL"] = url
    env["DEPLOYCENTER_USER"] = "ci-job"  # shown on runs; never the approving identity
    command = [sys.executable, "-m", "app", "--unattended", *args, "--data-dir", str(data_dir), "--json"]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def test_one_role_plans_another_approves_from_its_own_process_and_the_first_runs_it(
    tmp_path: Path, postgres_cluster: Cluster
) -> None:
    database = postgres_cluster.create_database()
    try:
        owner_url = postgres_cluster.url(database)
        data_dir = tmp_path / "env"
        setup = _run(data_dir, owner_url, "init", "--frontend", str(tmp_path / "fe"))
        assert setup.returncode == 0, setup.stderr
        tag = f"{os.getpid()}_{database.rsplit('_', 1)[-1]}"
        alice, bob = f"alice_{tag}", f"bob_{tag}"
        alice_url = _role(postgres_cluster, database, alice)
        bob_url = _role(postgres_cluster, database, bob)
        _grant_tables(postgres_cluster, database, [alice, bob])
        bundle = write_bundle(tmp_path / "b", "Orders")
        assert _run(data_dir, owner_url, "policy", "set", "--approvals", "1").returncode == 0
        assert _run(data_dir, alice_url, "publish", str(bundle)).returncode == 0  # compiled, held back

        plan_file = tmp_path / "plan.json"
        saved = _run(data_dir, alice_url, "deploy-all", "--plan-out", str(plan_file))
        assert saved.returncode == 0, saved.stderr
        assert json.loads(plan_file.read_text())["created_by"] == alice

        own = _run(data_dir, alice_url, "approve", str(plan_file))
        assert own.returncode == 3 and json.loads(own.stdout)["refusal"] == "approvals"
        early = _run(data_dir, alice_url, "deploy-all", "--plan", str(plan_file))
        assert early.returncode == 3 and json.loads(early.stdout)["refusal"] == "approvals"

        approved = _run(data_dir, bob_url, "approve", str(plan_file), "--comment", "reviewed")
        assert approved.returncode == 0, approved.stderr
        assert json.loads(approved.stdout)["approval"]["identity"] == bob

        ran = _run(data_dir, alice_url, "deploy-all", "--plan", str(plan_file))
        assert ran.returncode == 0, ran.stderr
        assert [(i["module"], i["status"]) for i in json.loads(ran.stdout)["run"]["items"]] == [("Orders", "deployed")]
        listed = json.loads(_run(data_dir, bob_url, "plans").stdout)["plans"]
        assert [(p["created_by"], [a["identity"] for a in p["approvals"]]) for p in listed] == [(alice, [bob])]
        assert listed[0]["run"] == json.loads(ran.stdout)["run"]["id"] and not listed[0]["current"]
    finally:
        postgres_cluster.drop_database(database)


def test_a_front_ends_owner_is_the_same_database_whichever_role_connects() -> None:
    from app.engine.frontend.ownership import Owner

    alice = Owner("env-1", "Production", "postgresql+psycopg://alice@db.example:5432/deploycenter")
    assert alice.same_as(Owner("env-1", "Production", "postgresql+psycopg://bob@db.example:5432/deploycenter"))
    assert alice.same_as(Owner("env-1", "Production", "postgresql+psycopg://db.example:5432/deploycenter"))
    assert not alice.same_as(Owner("env-1", "Production", "postgresql+psycopg://alice@other:5432/deploycenter"))
    assert not alice.same_as(Owner("env-2", "Production", "postgresql+psycopg://alice@db.example:5432/deploycenter"))
