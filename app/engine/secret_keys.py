"""Which configuration keys are secret, and hiding their values wherever a configuration is shown.

A key is secret when its name says so (it contains one of ``SECRET_WORDS``, in any letter case) or
when the module's bundle lists it in ``secret_keys``. A secret's value is stored in the database
and written to the front-ends' ``config.json``, where the module needs it, and nowhere else: every
front-end (command line, window, logs) shows ``MASK`` instead. Masking is decided by key only,
so an empty secret is masked too and the output never tells a set value from an unset one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.engine.context import EnvironmentContext

SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key")
MASK = "***"
# KEY=VALUE in free text (an audit entry's detail); a quoted value may hold spaces.
_ASSIGNMENT = re.compile(r"""([A-Za-z_][A-Za-z0-9_.\-]*)=("[^"]*"|'[^']*'|[^\s,;]+)""")


def is_secret(key: str, declared: Iterable[str] = ()) -> bool:
    """Whether the value of configuration key ``key`` must never be shown; ``declared``: the
    bundle's ``secret_keys``."""
    folded = key.casefold()
    return any(word in folded for word in SECRET_WORDS) or key in set(declared)


def mask_config(config: Mapping[str, str], declared: Iterable[str] = ()) -> dict[str, str]:
    """``config`` as it may be shown: every secret value replaced by ``MASK``."""
    declared = frozenset(declared)
    return {key: MASK if is_secret(key, declared) else value for key, value in config.items()}


def mask_assignments(text: str) -> str:
    """Free text with the value of every ``KEY=VALUE`` whose key is secret replaced by ``MASK``."""
    if "=" not in text:
        return text  # most texts: no pattern to run
    return _ASSIGNMENT.sub(lambda m: f"{m.group(1)}={MASK}" if is_secret(m.group(1)) else m.group(0), text)


def declared_in_manifest(manifest: Mapping[str, Any] | None) -> frozenset[str]:
    """The ``secret_keys`` of a stored manifest (``Manifest.to_json``); none for older versions."""
    keys = (manifest or {}).get("secret_keys") or ()
    return frozenset(key for key in keys if isinstance(key, str))


def declared_secret_keys(ctx: EnvironmentContext, module: str) -> frozenset[str]:
    """The ``secret_keys`` of ``module``'s latest version; none when there is no such module."""
    from sqlalchemy import select

    from app.engine.store.models import ModuleRow, ModuleVersionRow

    with ctx.db.read() as session:
        manifest = session.scalars(
            select(ModuleVersionRow.manifest)
            .join(ModuleRow, ModuleRow.latest_version_id == ModuleVersionRow.id)
            .where(ModuleRow.name_key == module.casefold(), ModuleRow.deleted_at.is_(None))
        ).first()
    return declared_in_manifest(manifest)


def shown_config(ctx: EnvironmentContext, module: str, config: Mapping[str, str]) -> dict[str, str]:
    """``module``'s configuration ``config`` as a front-end may show it."""
    return mask_config(config, declared_secret_keys(ctx, module))
