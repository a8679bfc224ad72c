"""Deciding, per module, whether a deploy run deploys it or skips it, and why (rules.md#deploy-all)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from app.engine.gc_pause import gc_paused
from app.engine.store.models import CompilationRow, DeploymentRow, FrontendRow, ModuleRow, ModuleVersionRow
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
    # The first front-end found without the release the record says is live there: the plan
    # writes it again (a front-end added, enabled or emptied since). None for every other item.
    missing_on: str | None = None

    @property
    def deploys(self) -> bool:
        return self.action == DEPLOY


@dataclass(frozen=True)
class UnreadFrontend:
    """A front-end the planner could not read, and how many modules it took as live there on
    the record's word (their last release made live there is the one expected)."""

    name: str
    location: str
    problem: str
    taken_as_live: int

    def describe(self) -> str:
        return (
            f"front-end {self.name} ({self.location}) could not be read: {self.problem}; "
            f"{self.taken_as_live} module(s) recorded live there were taken as live"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "problem": self.problem,
            "modules_taken_as_live": self.taken_as_live,
        }


@dataclass(frozen=True)
class DeployPlan:
    platform_version: str
    items: tuple[PlanItem, ...]
    unread: tuple[UnreadFrontend, ...] = ()  # front-ends that did not answer when planned

    @property
    def note(self) -> str | None:
        """What the run must say about its plan: the front-ends it could not read."""
        return "; ".join(frontend.describe() for frontend in self.unread) or None

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


@dataclass(frozen=True)
class _Gone:
    """The first front-end where a module recorded as live is not, or not known to be, live."""

    name: str
    location: str
    read: bool  # False: the front-end could not be read, and its record does not show the release

    def unread(self, what: str) -> str:
        return f"front-end {self.location} could not be read, and the record does not show {what} live there"


class DeployAllPlanner:
    """Reads every live module with its latest version and current-platform compilation at once.

    One query whatever the number of modules: planning 100,000 modules must stay interactive.
    A module the database records as live is also checked on every front-end (``CURRENT``
    only, not its files): "deployed" means live everywhere, so a front-end that lost a module
    gets it again from the next run instead of the module being skipped for ever. That goes for
    a module skipped because it did not compile (or is not prepared) as well: a front-end
    without its live build, one added or enabled since, gets that build.

    A front-end that cannot be read (down, a changed host key, ...) is taken at the record's
    word: a module whose last release made live there is the expected one stays skipped, and
    only the others are deployed, to fail there naming it. The plan lists such front-ends.
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
        checked, unread = self._unless_gone(tuple(items), held)
        return DeployPlan(self._platform, checked, unread)

    def _unless_gone(
        self, items: tuple[PlanItem, ...], held: dict[int, _LiveBuild]
    ) -> tuple[tuple[PlanItem, ...], tuple[UnreadFrontend, ...]]:
        """Check every front-end for the modules recorded as live: one batched read per front-end."""
        expected = {
            item.module: item.detail if item.reason == SkipReason.ALREADY_DEPLOYED else held[item.module_id].release_id
            for item in items
            if item.reason == SkipReason.ALREADY_DEPLOYED or item.module_id in held
        }
        if not expected:
            return items, ()
        from app.engine.frontend.fanout import on_each
        from app.engine.frontend.target import FrontendError

        def read_one(frontend: FrontendTarget) -> Mapping[str, str | None] | FrontendError:
            try:
                return frontend.read_current(list(expected))
            except FrontendError as error:
                return error

        gone: dict[str, _Gone] = {}  # module -> the first front-end where it is not (known to be) live
        unread: list[UnreadFrontend] = []
        for frontend, answer in zip(self._frontends, on_each(self._frontends, read_one), strict=True):  # all at once
            read_there = not isinstance(answer, FrontendError)
            live: Mapping[str, str | None]
            if isinstance(answer, FrontendError):
                live = self._recorded_live(frontend.name)
                trusted = sum(live.get(module) == release for module, release in expected.items())
                problem = answer.message.removeprefix(f"front-end {frontend.location}: ")
                unread.append(UnreadFrontend(frontend.name, frontend.location, problem, trusted))
            else:
                live = answer
            for module, release in expected.items():
                if module not in gone and live.get(module) != release:
                    gone[module] = _Gone(frontend.name, frontend.location, read_there)
        live_text = "this compilation is already live"
        if unread:  # said on each item it skips: its release there is only known from the record
            names = ", ".join(frontend.name for frontend in unread)
            live_text += f" (on front-end {names}, which could not be read, as recorded)"
        checked = tuple(self._recheck(item, gone, held.get(item.module_id), live_text) for item in items)
        return checked, tuple(unread)

    def _recorded_live(self, frontend: str) -> dict[str, str]:
        """Per module, the release last made live on ``frontend`` as the history records it."""
        last = (
            select(func.max(DeploymentRow.id))
            .join(FrontendRow, FrontendRow.id == DeploymentRow.frontend_id)
            .where(FrontendRow.name == frontend)
            .group_by(DeploymentRow.module_id)
        )
        rows = self._session.execute(
            select(ModuleRow.name, DeploymentRow.release_id)
            .join(ModuleRow, ModuleRow.id == DeploymentRow.module_id)
            .where(DeploymentRow.id.in_(last), ModuleRow.deleted_at.is_(None))
        )
        return {name: release for name, release in rows}

    def _recheck(self, item: PlanItem, gone: dict[str, _Gone], build: _LiveBuild | None, live_text: str) -> PlanItem:
        where = gone.get(item.module)
        if build is not None:
            if where is None:
                return item
            why = "it is not prepared" if item.reason == SkipReason.NOT_PREPARED else "it did not compile"
            live_build = f"its live build ({build.platform})"
            missing = (
                f"{live_build} is missing on front-end {where.location}" if where.read else where.unread(live_build)
            )
            detail = f"{missing}: written there, as {why} for {self._platform}"
            return item._replace(
                action=DEPLOY,
                reason=None,
                detail=detail,
                compilation_id=build.compilation_id,
                artifact_sha256=build.artifact_sha256,
                version=build.version,
                platform=build.platform,
                missing_on=where.name,
            )
        if item.reason != SkipReason.ALREADY_DEPLOYED:
            return item
        if where is not None:
            missing = f"not live on front-end {where.location}" if where.read else where.unread("this release")
            detail = f"{missing}; deploying it again"
            return item._replace(action=DEPLOY, reason=None, detail=detail, missing_on=where.name)
        return item._replace(detail=live_text)


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
