"""Audit entries are written once and never updated."""

from datetime import datetime, timezone
import json


def audit_entry(actor, action, entity, entity_id, changes):
    return {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "changes": json.dumps(changes, sort_keys=True),
    }


def diff(before, after):
    """Field-level changes between two versions of a record."""
    keys = set(before) | set(after)
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(keys)
        if before.get(key) != after.get(key)
    }
