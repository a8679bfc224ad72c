"""Source zips stored with a secret default in clear, by releases before stored sources kept them
out: rewritten once without it (``stored_source``), and the old zips removed.

Migration 0005 lists them on the environment (``EnvironmentRow.clear_sources``). The first command
that opens the environment and may write it then, in order, so that a crash at any point leaves
nothing that the next opening would not finish:

1. in one writer transaction, stores each listed zip again without its secrets and points every
   version that used it at the new one (the list stays);
2. removes each listed zip that no version and no compilation uses any more;
3. empties the list, and says in the audit log what it did.

A listed zip that cannot be read stays listed, and is tried again at the next opening.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.artifacts import ArtifactCorruptError, ArtifactStore
from app.engine.audit import audit
from app.engine.bundle import bundle_from_source_zip, prepare_source
from app.engine.context import EnvironmentContext
from app.engine.durability import PendingWrites, make_durable
from app.engine.errors import BundleError
from app.engine.runs.records import environment, serialize_writers
from app.engine.store.models import CompilationRow, ModuleVersionRow
from app.engine.stored_source import without_secret_defaults

log = logging.getLogger(__name__)


def rewrite_clear_sources(ctx: EnvironmentContext) -> int:
    """Rewrite the listed source zips without their secrets and remove the old ones; how many
    were rewritten. Nothing to do, or a database this process cannot write: nothing done."""
    if ctx.db.read_only:
        return 0
    with ctx.db.read() as session:
        if not environment(session).clear_sources:
            return 0
    with ctx.db.write() as session:
        listed = list(serialize_writers(session).clear_sources or ())
        rewritten, failed = _rewrite(session, ctx.artifacts, listed)
    _remove_unused(ctx, [sha for sha in listed if sha not in failed])
    with ctx.db.write() as session:
        env = serialize_writers(session)
        if env.clear_sources:  # another process may have finished it meanwhile
            env.clear_sources = sorted(failed) or None
        if rewritten:
            detail = f"{rewritten} stored source zip(s) rewritten without their secret default values"
            audit(session, "secure-sources", "stored sources", "rewritten", detail)
    return rewritten


def _rewrite(session: Session, store: ArtifactStore, listed: Sequence[str]) -> tuple[int, set[str]]:
    """Store each listed zip without its secrets and move its versions to it: how many were, and
    the zips that could not be read."""
    rewritten = 0
    failed: set[str] = set()
    for sha in listed:
        versions = list(session.scalars(select(ModuleVersionRow).where(ModuleVersionRow.source_sha256 == sha)))
        if not versions:
            continue
        try:
            bundle = without_secret_defaults(bundle_from_source_zip(store.load(sha)))
            [stored] = store.commit([prepare_source(bundle, store, f"stored source {sha}")])
        except (ArtifactCorruptError, BundleError) as error:
            log.warning("stored source %s cannot be rewritten without its secrets yet: %s", sha, error)
            failed.add(sha)
            continue
        for version in versions:
            version.source_sha256 = stored
        rewritten += 1
    return rewritten, failed


def _remove_unused(ctx: EnvironmentContext, shas: Sequence[str]) -> None:
    """Remove the zips of ``shas`` that no version and no compilation uses (a rewritten source
    may be the very same zip, when a secret's value was already empty)."""
    with ctx.db.read() as session:
        used = set(
            session.scalars(select(ModuleVersionRow.source_sha256).where(ModuleVersionRow.source_sha256.in_(shas)))
        )
        used |= set(
            session.scalars(select(CompilationRow.artifact_sha256).where(CompilationRow.artifact_sha256.in_(shas)))
        )
    gone = [ctx.artifacts.path(sha) for sha in sorted(set(shas) - used)]
    for path in gone:
        path.unlink(missing_ok=True)
    # Durable before the list is emptied: a zip that came back after a power cut would stay.
    make_durable([PendingWrites(ctx.artifacts.root, [], sorted({path.parent for path in gone}))])
