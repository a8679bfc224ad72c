"""Role checks used by screens and services of every application."""

from dataclasses import dataclass, field

ROLE_HIERARCHY = {
    "admin": {"manager", "clerk", "viewer"},
    "manager": {"clerk", "viewer"},
    "clerk": {"viewer"},
    "viewer": set(),
}


@dataclass(frozen=True)
class Principal:
    user_id: str
    display_name: str
    roles: frozenset = field(default_factory=frozenset)


def effective_roles(principal):
    """The user's roles plus every role they imply."""
    granted = set(principal.roles)
    for role in principal.roles:
        granted |= ROLE_HIERARCHY.get(role, set())
    return granted


def require(principal, role):
    if role not in effective_roles(principal):
        raise PermissionError(f"{principal.display_name} lacks the {role} role")
