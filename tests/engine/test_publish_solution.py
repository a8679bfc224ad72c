"""Publish solution (rules.md#publish-solution): recompile from the stored sources and deploy, even what is live."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from app.engine import operations
from app.engine.context import EnvironmentContext
from app.engine.read import views
from app.engine.store.models import CompilationRow
from app.engine.vocabulary import ItemStatus, RunKind, RunStatus
from tests.engine.envkit import make_kit


def compiled_at(kit_ctx: EnvironmentContext, platform: str) -> list[datetime]:
    with kit_ctx.db.read() as session:
        return list(
            session.scalars(
                select(CompilationRow.compiled_at)
                .where(CompilationRow.platform_version == platform)
                .order_by(CompilationRow.id)
            )
        )


def test_every_module_is_compiled_again_and_deployed_even_when_already_deployed(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, frontends=2)
    try:
        kit.publish(kit.bundle("Alpha"), kit.bundle("Beta", depends=["Alpha"]))
        live = [kit.current("Alpha"), kit.current("Beta")]
        before = compiled_at(kit.ctx, "11.18.1")

        done = operations.publish_solution(kit.ctx)

        assert (done.kind, done.status) == (RunKind.PUBLISH_SOLUTION, RunStatus.SUCCEEDED)
        detail = views.run_detail(kit.ctx, done.run_id)
        assert [(i.module, i.status) for i in detail.items] == [("Alpha", "deployed"), ("Beta", "deployed")]
        after = compiled_at(kit.ctx, "11.18.1")
        assert len(after) == len(before) == 2  # the compilations are replaced, not added
        assert all(new > old for new, old in zip(after, before, strict=True))
        assert [kit.current("Alpha"), kit.current("Beta")] == live  # reproducible: the same releases
        assert views.verify(kit.ctx).drift == ()
    finally:
        kit.ctx.close()


def test_a_module_that_fails_to_compile_blocks_its_consumers(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, frontends=1)
    try:
        kit.publish(kit.bundle("Old", uses=["soap.legacy"]), kit.bundle("User", depends=["Old"]), kit.bundle("Free"))
        operations.upgrade(kit.ctx, "11.19.0")
        chosen = operations.resolve_modules(kit.ctx, ["Old", "User", "Free"])

        done = operations.publish_solution(kit.ctx, chosen)

        assert done.status == RunStatus.FAILED
        detail = {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, done.run_id).items}
        assert detail["Old"] == (ItemStatus.FAILED, "compilation-failed")
        assert detail["User"] == (ItemStatus.BLOCKED, "producer Old failed")
        assert detail["Free"] == (ItemStatus.DEPLOYED, None)
        assert "11.19.0" in (kit.current("Free") or "")
        assert "11.18.1" in (kit.current("User") or "")
    finally:
        kit.ctx.close()


def test_a_module_failing_two_deploy_alls_in_a_row_is_suggested(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, frontends=1)
    try:
        kit.publish(kit.bundle("Alpha"), kit.bundle("Beta"))
        operations.upgrade(kit.ctx, "11.19.0")
        (kit.frontends[0] / "Beta" / "stray.txt").write_text("not Deploy Center's\n")  # Beta fails there
        first = operations.deploy_all(kit.ctx)
        second = operations.deploy_all(kit.ctx)
        assert views.repeated_failures(kit.ctx, first.run_id) == ()
        assert views.repeated_failures(kit.ctx, second.run_id) == ("Beta",)
    finally:
        kit.ctx.close()
