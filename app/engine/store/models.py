"""The environment's tables. History is never deleted: a deleted module keeps its rows, marked deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.engine.vocabulary import ItemStatus, RunKind, RunStatus

W = TypeVar("W", bound=StrEnum)


class Vocabulary(TypeDecorator[W]):
    """A column of one of the product's words (``vocabulary``): the contract's string in the
    database, the typed word in Python."""

    impl = String(20)
    cache_ok = True

    def __init__(self, words: type[W]) -> None:
        super().__init__()
        self.words = words
        self._by_value: dict[str, W] = {word.value: word for word in words}

    def process_bind_param(self, value: W | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> W | None:
        return None if value is None else self._by_value[value]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class EnvironmentRow(Base):
    """The single row describing the environment this database holds."""

    __tablename__ = "environment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    platform_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))
    # Stamped on the front-ends this environment owns, so that a copy of the data dir cannot
    # write into them unnoticed.
    uid: Mapped[str | None] = mapped_column(String(36))
    # Older releases each front-end keeps per module beside the live, previous and staged ones
    # (rules.md#retention); None: the default, 3.
    keep_releases: Mapped[int | None] = mapped_column(Integer)
    # Stored source zips that may still hold a secret default in clear, left by older releases:
    # rewritten without it when the environment is next opened to write (``secret_sources``).
    clear_sources: Mapped[list[str] | None] = mapped_column(JSON)
    # The node_exporter textfile every run rewrites when it ends (``policy set --metrics-file``).
    metrics_file: Mapped[str | None] = mapped_column(Text)
    # Approvals of its saved plan, by others than its maker, that every planned run needs.
    approvals_required: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class FrontendRow(Base):
    __tablename__ = "frontend"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Its TARGET as stored: a folder, or an ssh:// target (the column kept its first name, "path").
    location: Mapped[str] = mapped_column("path", Text)
    kind: Mapped[str] = mapped_column(String(10), default="local", server_default="local")  # a FrontendKind
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    health_cmd: Mapped[str | None] = mapped_column(Text)
    # The hooks of a rolling run (rules.md#hooks): shell commands run on this machine, and a URL.
    drain_cmd: Mapped[str | None] = mapped_column(Text)
    undrain_cmd: Mapped[str | None] = mapped_column(Text)
    health_url: Mapped[str | None] = mapped_column(Text)
    health_timeout: Mapped[float | None] = mapped_column(Float)  # seconds; None: the default
    # Written before the drain command runs and cleared once undrained: a run that dies in
    # between leaves the front-end shown as drained until a changing command undrains it.
    drained_by_run: Mapped[int | None] = mapped_column(Integer)
    drained_at: Mapped[datetime | None] = mapped_column()
    # The last hook or check run on it: {"phase", "at", "ok", "output"}, its output cut short.
    last_hook: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PlatformUpgradeRow(Base):
    __tablename__ = "platform_upgrade"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_version: Mapped[str] = mapped_column(String(40))
    to_version: Mapped[str] = mapped_column(String(40))
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column()
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id"))


class ModuleRow(Base):
    """A module; ``deployed_*`` say what is live on the front-ends (all of them, or none)."""

    __tablename__ = "module"
    __table_args__ = (
        # A name may be reused after its module was deleted, never while it exists.
        # Its PostgreSQL form is added by add_postgresql_options(), for start-up time.
        Index("ux_module_live_name", "name_key", unique=True, sqlite_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(64))
    application: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    latest_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("module_version.id", use_alter=True, name="fk_module_latest_version")
    )
    deployed_compilation_id: Mapped[int | None] = mapped_column(
        ForeignKey("compilation.id", use_alter=True, name="fk_module_deployed_compilation")
    )
    deployed_release: Mapped[str | None] = mapped_column(String(120))
    deployed_at: Mapped[datetime | None] = mapped_column()
    # Values set with Apply configurations; they override the latest version's defaults.
    config_overrides: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    versions: Mapped[list[ModuleVersionRow]] = relationship(
        back_populates="module", foreign_keys="ModuleVersionRow.module_id"
    )


class ModuleVersionRow(Base):
    __tablename__ = "module_version"
    __table_args__ = (UniqueConstraint("module_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, object]] = mapped_column(JSON)
    # Producer names joined by "," (names cannot hold one): planning reads it without JSON.
    depends: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column()
    published_by: Mapped[str] = mapped_column(String(200))

    module: Mapped[ModuleRow] = relationship(back_populates="versions", foreign_keys=[module_id])


class CompilationRow(Base):
    __tablename__ = "compilation"
    __table_args__ = (UniqueConstraint("module_version_id", "platform_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_version.id"), index=True)
    platform_version: Mapped[str] = mapped_column(String(40), index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    artifact_size: Mapped[int] = mapped_column(Integer, default=0)
    compiled_at: Mapped[datetime] = mapped_column()


class DeploymentRow(Base):
    """One release made live on one front-end: the history behind ``ModuleRow.deployed_*``."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), index=True)
    frontend_id: Mapped[int] = mapped_column(ForeignKey("frontend.id"))
    compilation_id: Mapped[int] = mapped_column(ForeignKey("compilation.id"))
    release_id: Mapped[str] = mapped_column(String(120))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id"), index=True)
    deployed_at: Mapped[datetime] = mapped_column()


class RunRow(Base):
    """A deployment execution (or an upgrade preparation, or a publish) and its owner's liveness."""

    __tablename__ = "run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RunKind] = mapped_column(Vocabulary(RunKind), index=True)
    status: Mapped[RunStatus] = mapped_column(Vocabulary(RunStatus), index=True)
    platform_version: Mapped[str] = mapped_column(String(40))
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    owner_host: Mapped[str] = mapped_column(String(200))
    owner_pid: Mapped[int] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime] = mapped_column()
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    workers: Mapped[int] = mapped_column(Integer, default=1)
    message: Mapped[str | None] = mapped_column(Text)
    # Switched one front-end at a time with health checks (rules.md#rolling).
    rolling: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Seconds every switched front-end's checks kept passing before the run could end well; a run
    # with a soak records nothing as live before it passed, so recovery switches it back.
    soak: Mapped[float | None] = mapped_column(Float)
    max_failures: Mapped[str | None] = mapped_column(String(12))  # the failure budget as given: "2", "10%"

    items: Mapped[list[RunItemRow]] = relationship(back_populates="run", order_by="RunItemRow.position")


class RunItemRow(Base):
    __tablename__ = "run_item"
    __table_args__ = (UniqueConstraint("run_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"))
    module_name: Mapped[str] = mapped_column(String(64))
    application: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    compilation_id: Mapped[int | None] = mapped_column(ForeignKey("compilation.id"))
    status: Mapped[ItemStatus] = mapped_column(Vocabulary(ItemStatus))
    # A short code ("already-deployed") or a whole failure message: no length limit.
    reason: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # Where the module went: front-end name -> what it holds after the run ("live", "failed", ...).
    frontends: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # What was live when the run started: the release a rollback of this run goes back to.
    previous_release: Mapped[str | None] = mapped_column(String(120))
    previous_compilation_id: Mapped[int | None] = mapped_column(Integer)

    run: Mapped[RunRow] = relationship(back_populates="items")


class ModuleLockRow(Base):
    """A module held by an active run: Publish, Apply configurations and Delete are refused."""

    __tablename__ = "module_lock"

    module_id: Mapped[int] = mapped_column(ForeignKey("module.id"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), index=True)


class AuditRow(Base):
    """One audit entry, chained to the one before by hash (``audit_chain``); written only by ``audit.audit``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    who: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    prev_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))


class WebhookRow(Base):
    """A receiver of events. ``secret`` signs each body; it is never shown once stored."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    # Event names joined by ","; None: every event.
    events: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))


class WebhookEventRow(Base):
    """An event waiting in the outbox or sent: its CloudEvents body, exactly as every try posts it."""

    __tablename__ = "webhook_event"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the CloudEvents id
    type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column()
    body: Mapped[str] = mapped_column(Text)


class WebhookDeliveryRow(Base):
    """One event for one webhook: tried until delivered or given up (``dead``)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "state", "next_try_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_event.id"), index=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10))  # pending, delivered, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column()
    # A sender's claim on the next try: no other process sends it before ``lease_until``.
    lease_until: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    last_try_at: Mapped[datetime | None] = mapped_column()
    last_result: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()


class SavedPlanRow(Base):
    """A plan saved with ``--plan-out``: its canonical document, and the run that carried it out."""

    __tablename__ = "saved_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64), unique=True)  # the sha256 of the document
    kind: Mapped[RunKind] = mapped_column(Vocabulary(RunKind))
    target: Mapped[str] = mapped_column(Text)  # what it works on, for people: "all modules", "run 42"
    created_by: Mapped[str] = mapped_column(String(200))  # an identity that approvals are told apart from
    created_at: Mapped[datetime] = mapped_column()
    document: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as its plan_id was computed
    items: Mapped[int] = mapped_column(Integer)
    changes: Mapped[int] = mapped_column(Integer)  # items that change a front-end (not skipped)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id"))  # a plan runs once


class PlanApprovalRow(Base):
    """One identity's approval of a saved plan; a revoked one keeps its row."""

    __tablename__ = "plan_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("saved_plan.id"), index=True)
    identity: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class ChangeWindowRow(Base):
    """A weekly change window: from a local weekday and time in its zone, for a number of minutes."""

    __tablename__ = "change_window"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday 0 .. Sunday 6
    start_minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    minutes: Mapped[int] = mapped_column(Integer)  # elapsed minutes it lasts
    zone: Mapped[str] = mapped_column(String(64))  # IANA name, resolved when added
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))


class ChangeFreezeRow(Base):
    """A dated freeze: no changing command starts between these instants."""

    __tablename__ = "change_freeze"

    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    zone: Mapped[str] = mapped_column(String(64))  # the zone it was given in, to show it the same way
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))


def add_postgresql_options() -> None:
    """Give the models their PostgreSQL-only options; called when a PostgreSQL database is opened.

    Naming a ``postgresql_*`` option imports SQLAlchemy's PostgreSQL dialect, a tenth of the
    start-up time of every command, which SQLite environments never need. The migrations create
    the same index with its own options; these matter when comparing the models with a schema.
    """
    table = ModuleRow.__table__
    assert isinstance(table, Table)
    index = next(i for i in table.indexes if i.name == "ux_module_live_name")
    options = index.dialect_options["postgresql"]
    if options["where"] is None:
        options["where"] = text("deleted_at IS NULL")
