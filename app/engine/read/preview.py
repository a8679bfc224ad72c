"""What Deploy All would do now, told the way a window shows it before anyone asks for it.

The plan is the dry run's own (``DeployAllPlanner`` over the enabled front-ends, reading their
``CURRENT``), so a front-end added or enabled since, or one that lost a module, is brought up
to date in the preview exactly as the run would do it. Beside the plan: which of the releases it
writes a stage run already left on the front-ends (those only switch), and which front-ends it
brings up to date. Changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from app.engine.context import EnvironmentContext
from app.engine.frontend.layout import release_id_for
from app.engine.frontend.registry import enabled, opened
from app.engine.lookup import frontends_of_session
from app.engine.retention import staged_releases
from app.engine.runs import records
from app.engine.runs.planner import DeployAllPlanner, DeployPlan, PlanItem
from app.engine.vocabulary import SkipReason


@dataclass(frozen=True)
class DeployPreview:
    """A Deploy All plan, with what it means for the front-ends."""

    plan: DeployPlan
    staged: frozenset[str]  # modules the plan deploys whose release is staged everywhere: they only switch

    @property
    def to_deploy(self) -> tuple[PlanItem, ...]:
        return self.plan.to_deploy

    @property
    def catching_up(self) -> tuple[PlanItem, ...]:
        """Modules recorded as live that some enabled front-end lacks: the plan writes them there."""
        return tuple(item for item in self.plan.to_deploy if item.missing_on is not None)

    @property
    def older_builds(self) -> tuple[PlanItem, ...]:
        """Modules that did not compile (or are not prepared) whose live older build goes where it is missing."""
        return tuple(item for item in self.plan.to_deploy if item.platform is not None)

    def behind(self) -> dict[str, int]:
        """Front-end name -> how many modules recorded as live it lacks (first one found per module)."""
        return dict(Counter(item.missing_on for item in self.catching_up if item.missing_on is not None))

    def skipped(self, reason: SkipReason) -> int:
        return self.plan.skipped_by_reason().get(reason, 0)


def deploy_preview(ctx: EnvironmentContext) -> DeployPreview:
    """What Deploy All would do now (its dry run), and which of its releases are staged already."""
    with ctx.db.read() as session:
        env = records.environment(session)
        with opened(enabled(frontends_of_session(session))) as targets:
            plan = DeployAllPlanner(session, env.platform_version, targets).plan()
        deploying = plan.to_deploy
        found = staged_releases(session, [item.module_id for item in deploying]) if deploying else {}
    staged = frozenset(
        item.module
        for item in deploying
        if item.artifact_sha256 is not None
        and release_id_for(item.version, item.platform or plan.platform_version, item.artifact_sha256)
        in found.get(item.module, frozenset())
    )
    return DeployPreview(plan, staged)
