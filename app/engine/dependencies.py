"""The dependency graph of an environment, and refusing a publish that would close a cycle in it.

Producers deploy before their consumers, so the modules and their ``depends`` must form no cycle.
A single publish cannot see one that it closes with modules published earlier (``A``, then ``B``
depending on ``A``, then ``A`` version 2 depending on ``B``), so the check reads every live
module's latest ``depends`` and lays the manifests being published over them. Only cycles through
a module being published are refused: one left from before this check stays the business of the
publish that touches it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.bundle import Manifest
from app.engine.errors import BadInputError
from app.engine.store.models import ModuleRow, ModuleVersionRow

# name key (casefolded) -> (the name as published, the producers' name keys)
Graph = dict[str, tuple[str, tuple[str, ...]]]


def refuse_cycles(session: Session, manifests: Sequence[Manifest]) -> None:
    """``BadInputError`` naming the cycle when publishing ``manifests`` would close one."""
    graph = stored_graph(session)
    for manifest in manifests:
        graph[manifest.name.casefold()] = (manifest.name, _keys(manifest.depends))
    cycle = find_cycle(graph, [manifest.name.casefold() for manifest in manifests])
    if cycle:
        shown = " -> ".join(graph[key][0] for key in cycle)
        raise BadInputError(f"dependency cycle: {shown}; a module cannot depend on itself, even through others")


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


def _components_from(graph: Mapping[str, tuple[str, tuple[str, ...]]], starts: Iterable[str]) -> dict[str, frozenset[str]]:
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


def _shortest_way_back(graph: Mapping[str, tuple[str, tuple[str, ...]]], start: str, component: frozenset[str]) -> list[str]:
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
