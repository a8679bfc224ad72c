"""Finding the dependency cycle a publish would close."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.dependencies import MAX_LEVELS, find_cycle
from app.engine.errors import BadInputError
from tests.bundles import write_bundle
from tests.engine.envkit import make_kit


def graph(edges: dict[str, str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {key: (key.upper(), tuple(filter(None, producers.split(",")))) for key, producers in edges.items()}


def test_no_cycle_in_a_diamond() -> None:
    assert find_cycle(graph({"top": "l,r", "l": "base", "r": "base", "base": ""}), ["top"]) == []


def test_the_shortest_cycle_through_the_published_module() -> None:
    edges = graph({"a": "b,x", "b": "c", "c": "a", "x": "a"})
    assert find_cycle(edges, ["a"]) == ["a", "x", "a"]


def test_a_cycle_the_published_module_only_reaches_is_not_its_own() -> None:
    edges = graph({"new": "old1", "old1": "old2", "old2": "old1"})
    assert find_cycle(edges, ["new"]) == []
    assert find_cycle(edges, ["new", "old2"]) == ["old2", "old1", "old2"]


def test_producers_that_do_not_exist_end_a_path() -> None:
    assert find_cycle(graph({"a": "ghost"}), ["a"]) == []


def test_a_chain_of_100000_modules_closed_at_its_end() -> None:
    count = 100_000
    edges = {f"m{i}": (f"M{i}", (f"m{i + 1}",) if i + 1 < count else ()) for i in range(count)}
    assert find_cycle(edges, ["m0"]) == []
    edges[f"m{count - 1}"] = (f"M{count - 1}", ("m0",))
    cycle = find_cycle(edges, [f"m{count - 1}"])
    assert len(cycle) == count + 1 and cycle[0] == cycle[-1] == f"m{count - 1}"


def test_a_cycle_through_a_chain_deeper_than_the_level_by_level_reading(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    try:
        depth = MAX_LEVELS + 6
        bundles = [
            kit.bundle(f"Chain{i:03d}", depends=[f"Chain{i + 1:03d}"] if i + 1 < depth else []) for i in range(depth)
        ]
        assert kit.publish(*bundles).status == "succeeded"
        closing = kit.bundle("Closing", depends=["Chain000"])
        assert kit.publish(closing).status == "succeeded"
        last = write_bundle(tmp_path / "v2", f"Chain{depth - 1:03d}", depends=["Closing"])
        with pytest.raises(BadInputError, match=f"dependency cycle: Chain{depth - 1:03d} -> Closing -> Chain000 -> "):
            kit.publish(last)
    finally:
        kit.ctx.close()
