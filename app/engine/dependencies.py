"""The dependency graph of an environment, and refusing a publish that would close a cycle in it.

Producers deploy before their consumers, so the modules and their ``depends`` must form no cycle.
A single publish cannot see one that it closes with modules published earlier (``A``, then ``B``
depending on ``A``, then ``A`` version 2 depending on ``B``), so the check reads the latest
``depends`` of the live modules that the manifests being published reach, and lays the manifests
over them. Only cycles through
a module being published are refused: one left from before this check stays the business of the
publish that touches it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.errors import BadInputError
from app.engine.manifest import Manifest
from app.engine.store.models import ModuleRow, ModuleVersionRow

# name key (casefolded) -> (the name as published, the producers' name keys)
Graph = dict[str, tuple[str, tuple[str, ...]]]
MAX_LEVELS = 64
CHUNK = 5000


def refuse_cycles(session: Session, manifests: Sequence[Manifest]) -> None:
    """``BadInputError`` naming the cycle when publishing ``manifests`` would close one."""
    graph: Graph = {manifest.name.casefold(): (manifest.name, _keys(manifest.depends)) for manifest in manifests}
    _add_stored_producers(session, graph)
    cycle = find_cycle(graph, [manifest.name.casefold() for manifest in manifests])
    if cycle:
        shown = " -> ".join(graph[key][0] for key in cycle)
        raise BadInputError(f"dependency cycle: {shown}; a module cannot depend on itself, even through others")


def _add_stored_producers(session: Session, graph: Graph) -> None:
    """Add to ``graph`` the stored modules its entries reach through ``depends``, level by level:
    a cycle through a module being published can only pass there, and a publish at 100,000
    modules then reads a few rows instead of all (0.2 s). A chain deeper than ``MAX_LEVELS``
    reads the whole graph at once instead of one query per level."""
    frontier = {producer for _name, producers in graph.values() for producer in producers} - set(graph)
    for _level in range(MAX_LEVELS):
        if not frontier:
            return
        found: Graph = {}
        keys = sorted(frontier)
        for start in range(0, len(keys), CHUNK):
            found.update(_stored_entries(session, keys[start : start + CHUNK]))
        graph.update(found)
        frontier = {producer for _name, producers in found.values() for producer in producers} - set(graph)
    if frontier:
        for key, entry in stored_graph(session).items():
            graph.setdefault(key, entry)  # the manifests being published stay over what is stored


def _stored_entries(session: Session, keys: Sequence[str]) -> Graph:
    rows = session.execute(
        select(ModuleRow.name, ModuleVersionRow.depends)
        .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .where(ModuleRow.deleted_at.is_(None), ModuleRow.name_key.in_(keys))
    )
    return {name.casefold(): (name, _keys(depends.split(",") if depends else ())) for name, depends in rows}


def stored_graph(session: Session) -> Graph:
    """Every live module with the producers its latest version depends on."""
    rows = session.execute(
        select(ModuleRow.name, ModuleVersionRow.depends)
        .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .where(ModuleRow.deleted_at.is_(None))
    )
    return {name.casefold(): (name, _keys(depends.split(",") if depends else ())) for name, depends in rows}


def find_cycle(graph: Mapping[str, tuple[str, tuple[str, ...]]], starts: Iterable[str]) -> list[str]:
    """A shortest cycle through the first of ``starts`` that lies on one, as keys from it back to
    it (``[a, b, a]``); empty when none does. Producers missing from ``graph`` end a path."""
    components = _components_from(graph, starts)
    for start in starts:
        component = components.get(start)
        if component is None or len(component) < 2:
            continue
        return _shortest_way_back(graph, start, component)
    return []


def _keys(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(name.casefold() for name in names if name)


def _producers(graph: Mapping[str, tuple[str, tuple[str, ...]]], key: str) -> tuple[str, ...]:
    entry = graph.get(key)
    return tuple(p for p in entry[1] if p in graph) if entry else ()


def _components_from(
    graph: Mapping[str, tuple[str, tuple[str, ...]]], starts: Iterable[str]
) -> dict[str, frozenset[str]]:
    """Strongly connected components of what ``starts`` reach (Tarjan, without recursion: chains of
    thousands of modules are normal), as each node's component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: dict[str, frozenset[str]] = {}
    counter = 0
    for root in starts:
        if root in index or root not in graph:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            producers = _producers(graph, node)
            if position < len(producers):
                work.append((node, position + 1))
                child = producers[position]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                component = frozenset(members)
                result.update((member, component) for member in members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def _shortest_way_back(
    graph: Mapping[str, tuple[str, tuple[str, ...]]], start: str, component: frozenset[str]
) -> list[str]:
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for producer in _producers(graph, node):
            if producer not in component:
                continue
            if producer == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if producer not in came_from:
                came_from[producer] = node
                queue.append(producer)
    return []
