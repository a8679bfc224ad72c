"""A module's configuration: its bundle's defaults with the values applied to it since."""

from __future__ import annotations

import json
from collections.abc import Mapping


def effective_config(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The defaults, with the applied values for keys the module still declares."""
    config = dict(defaults)
    config.update({key: value for key, value in overrides.items() if key in defaults})
    return config


def declared_defaults(manifest: Mapping[str, object] | None) -> dict[str, str]:
    """The ``[config]`` table of a stored manifest: the keys a module declares, with their defaults."""
    table = manifest.get("config") if manifest else None
    if not isinstance(table, Mapping):
        return {}
    return {str(key): str(value) for key, value in table.items()}


def config_bytes(config: Mapping[str, str]) -> bytes:
    """The ``config.json`` a front-end gets: sorted keys, readable, UTF-8."""
    return (json.dumps(dict(config), sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
