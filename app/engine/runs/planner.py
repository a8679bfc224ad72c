"""Deciding, per module, whether a deploy run deploys it or skips it, and why (rules.md#deploy-all)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from app.engine.gc_pause import gc_paused
from app.engine.store.models import CompilationRow, ModuleRow, ModuleVersionRow
from app.engine.vocabulary import SkipReason

if TYPE_CHECKING:  # status reads plans' types only: the target machinery loads on first use
    from app.engine.frontend.target import FrontendTarget

DEPLOY = "deploy"
SKIP = "skip"
# The reasons a deploy run skips a module (rules.md#deploy-all), in the order summaries list them.
SKIP_REASONS = (SkipReason.COMPILATION_FAILED, SkipReason.ALREADY_DEPLOYED, SkipReason.NOT_PREPARED)
# Skipped modules whose live build (of an older platform) stays what they run.
KEEPS_LIVE_BUILD = (SkipReason.COMPILATION_FAILED, SkipReason.NOT_PREPARED)


class PlanItem(NamedTuple):
    """One module's decision. A named tuple: a plan of 100,000 modules builds in a blink."""

    module_id: int
    module: str
    application: str
    version: int
    compilation_id: int | None
    artifact_sha256: str | None
    depends: tuple[str, ...]
    action: str  # DEPLOY or SKIP
    reason: SkipReason | None = None
    detail: str | None = None
    # The platform of the release to write, when it is not the plan's: a module whose compilation
    # for the plan's platform failed keeps its live build, which a front-end lacking it then gets.
    platform: str | None = None

    @property
    def deploys(self) -> bool:
        return self.action == DEPLOY


@dataclass(frozen=True)
class DeployPlan:
    platform_version: str
    items: tuple[PlanItem, ...]

    @property
    def to_deploy(self) -> tuple[PlanItem, ...]:
        return tuple(item for item in self.items if item.deploys)

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(SKIP_REASONS, 0)
        for item in self.items:
            if item.reason is not None and item.reason in counts:
                counts[item.reason] += 1
        return counts


@dataclass(frozen=True)
class _LiveBuild:
    """The release a module runs, from an older compilation than the plan's platform has."""

    compilation_id: int
    release_id: str
    platform: str
    artifact_sha256: str
    version: int


class DeployAllPlanner:
    """Reads every live module with its latest version and current-platform compilation at once.

    One query whatever the number of modules: planning 100,000 modules must stay interactive.
    A module the database records as live is also checked on every front-end (``CURRENT``
    only, not its files): "deployed" means live everywhere, so a front-end that lost a module
    gets it again from the next run instead of the module being skipped for ever. That goes for
    a module skipped because it did not compile (or is not prepared) as well: a front-end
    without its live build, one added or enabled since, gets that build.
    """

    def __init__(self, session: Session, platform_version: str, frontends: Sequence[FrontendTarget] = ()) -> None:
        self._session = session
        self._platform = platform_version
        self._frontends = tuple(frontends)

    def plan(self, module_ids: Collection[int] | None = None) -> DeployPlan:
        live = aliased(CompilationRow)
        live_version = aliased(ModuleVersionRow)
        query = (
            select(
                ModuleRow.id,
                ModuleRow.name,
                ModuleRow.application,
                ModuleRow.deployed_compilation_id,
                ModuleRow.deployed_release,
                ModuleVersionRow.number,
                ModuleVersionRow.depends,
                CompilationRow.id,
                CompilationRow.succeeded,
                CompilationRow.reason,
                CompilationRow.artifact_sha256,
                live.platform_version,
                live.artifact_sha256,
                live_version.number,
            )
            .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
            .outerjoin(live, live.id == ModuleRow.deployed_compilation_id)
            .outerjoin(live_version, live_version.id == live.module_version_id)
            .outerjoin(
                CompilationRow,
                and_(
                    CompilationRow.module_version_id == ModuleVersionRow.id,
                    CompilationRow.platform_version == self._platform,
                ),
            )
            .where(ModuleRow.deleted_at.is_(None))
            .order_by(ModuleRow.application, ModuleRow.name)
        )
        if module_ids is not None:
            query = query.where(ModuleRow.id.in_(list(module_ids)))
        # Core rows, not ORM loading: the plan reads plain columns and must stay fast at 100,000.
        rows = self._session.connection().execute(query)
        held: dict[int, _LiveBuild] = {}  # module id -> its live build, for the skipped ones
        with gc_paused():
            items = []
            for *columns, live_platform, live_sha, live_number in rows:
                item = _decide(*columns)
                items.append(item)
                deployed_compilation, release = columns[3], columns[4]
                if item.reason in KEEPS_LIVE_BUILD and release and live_sha and live_platform:
                    held[item.module_id] = _LiveBuild(
                        deployed_compilation, release, live_platform, live_sha, live_number
                    )
        return DeployPlan(self._platform, self._unless_gone(tuple(items), held))

    def _unless_gone(self, items: tuple[PlanItem, ...], held: dict[int, _LiveBuild]) -> tuple[PlanItem, ...]:
        """Check every front-end for the modules recorded as live: one batched read per front-end."""
        expected = {
            item.module: item.detail if item.reason == SkipReason.ALREADY_DEPLOYED else held[item.module_id].release_id
            for item in items
            if item.reason == SkipReason.ALREADY_DEPLOYED or item.module_id in held
        }
        if not expected:
            return items
        from app.engine.frontend.farm import on_each
        from app.engine.frontend.target import FrontendError

        def read(frontend: FrontendTarget) -> dict[str, str | None]:
            try:
                return frontend.read_current(list(expected))
            except FrontendError:
                return {}  # unreadable: deploy again, and let the run report what is wrong there

        gone: dict[str, str] = {}  # module -> the first front-end where it is not live
        for frontend, live in zip(self._frontends, on_each(self._frontends, read), strict=True):  # all at once
            for module, release in expected.items():
                if module not in gone and live.get(module) != release:
                    gone[module] = frontend.location
        return tuple(self._recheck(item, gone, held.get(item.module_id)) for item in items)

    def _recheck(self, item: PlanItem, gone: dict[str, str], build: _LiveBuild | None) -> PlanItem:
        where = gone.get(item.module)
        if build is not None:
            if where is None:
                return item
            why = "it is not prepared" if item.reason == SkipReason.NOT_PREPARED else "it did not compile"
            detail = (
                f"its live build ({build.platform}) is missing on front-end {where}: written there, "
                f"as {why} for {self._platform}"
            )
            return item._replace(
                action=DEPLOY,
                reason=None,
                detail=detail,
                compilation_id=build.compilation_id,
                artifact_sha256=build.artifact_sha256,
                version=build.version,
                platform=build.platform,
            )
        if item.reason != SkipReason.ALREADY_DEPLOYED:
            return item
        if where is not None:
            detail = f"not live on front-end {where}; deploying it again"
            return item._replace(action=DEPLOY, reason=None, detail=detail)
        return item._replace(detail="this compilation is already live")


def _decide(
    module_id: int,
    name: str,
    application: str,
    deployed_compilation_id: int | None,
    deployed_release: str | None,
    version: int,
    depends: str,
    compilation_id: int | None,
    succeeded: bool | None,
    failure: str | None,
    artifact_sha256: str | None,
) -> PlanItem:
    producers = tuple(depends.split(",")) if depends else ()
    reason: SkipReason | None
    detail: str | None
    if compilation_id is None:
        action, reason, detail = SKIP, SkipReason.NOT_PREPARED, "no compilation for this platform version yet"
    elif not succeeded:
        action, reason, detail = SKIP, SkipReason.COMPILATION_FAILED, failure
    elif deployed_compilation_id == compilation_id:
        # The detail carries the live release id until the front-ends are checked.
        action, reason, detail = SKIP, SkipReason.ALREADY_DEPLOYED, deployed_release
    else:
        action, reason, detail = DEPLOY, None, None
    return PlanItem(
        module_id, name, application, version, compilation_id, artifact_sha256, producers, action, reason, detail
    )
