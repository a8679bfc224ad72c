"""``deploycenter --unattended frontend ...``: list, add, remove, disable, enable and adopt front-ends."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.parsing import CancelSignal, CommandSet
from app.cli.shared import EXIT_OK, EXIT_SOME_FAILED, existing_environment, format_table, output

if TYPE_CHECKING:
    from app.engine.frontend.registry import Frontend


def register(commands: CommandSet) -> None:
    actions = commands.group(
        "frontend", "list, add, remove, disable or enable front-ends", "Manage the environment's front-ends."
    )
    p = actions.command("list", "every front-end with its kind and whether it is enabled", list_frontends)
    p.add_argument(
        "--check",
        action="store_true",
        help="also reach each one and count the modules that run what is recorded (exit 1 when not)",
    )
    p = actions.command("add", "add a front-end; the next Deploy All brings it up to date", add)
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", metavar="TARGET", help="a folder, or ssh://[user@]host[:port]/absolute/path")
    p.add_argument("--health-cmd", metavar="CMD", help="run after a rolling switch of this front-end; must exit 0")
    p.add_argument("--adopt", action="store_true", help="take it over from an environment that owns it")
    p = actions.command("remove", "forget a front-end (its files stay)", remove)
    p.add_argument("name", metavar="NAME")
    p = actions.command("disable", "take a front-end out of every run", disable)
    p.add_argument("name", metavar="NAME")
    p = actions.command("enable", "bring a front-end back into runs", enable)
    p.add_argument("name", metavar="NAME")
    p = actions.command("adopt", "take over a front-end stamped by another environment", adopt)
    p.add_argument("name", metavar="NAME")


def describe(frontend: Frontend) -> dict[str, Any]:
    return {
        "name": frontend.name,
        "path": frontend.location,
        "kind": frontend.kind,
        "enabled": frontend.enabled,
        "health_cmd": frontend.health_cmd,
    }


def list_frontends(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    if args.check:
        return _checked_list(args)
    with existing_environment(args) as ctx:
        found = farm_admin.list_frontends(ctx)
    rows = [("NAME", "KIND", "ENABLED", "TARGET", "HEALTH CHECK")]
    rows += [(f.name, f.kind, "yes" if f.enabled else "no", f.location, f.health_cmd or "") for f in found]
    output(args, {"frontends": [describe(f) for f in found]}, format_table(rows))
    return EXIT_OK


def _checked_list(args: argparse.Namespace) -> int:
    """Each front-end reached, and how many modules run there what the record says."""
    from app.engine.read.farm import farm_state

    with existing_environment(args) as ctx:
        farm = farm_state(ctx)
    rows = [("NAME", "KIND", "ENABLED", "REACHABLE", "LIVE", "BEHIND", "NOT RECORDED", "TARGET")]
    for state in farm.frontends:
        f = state.frontend
        rows.append(
            (
                f.name,
                f.kind,
                "yes" if f.enabled else "no",
                "yes" if state.reachable else "no",
                str(state.live),
                str(state.behind),
                str(state.extra),
                f.location,
            )
        )
    problems = [f"{s.frontend.name}: {s.problem}" for s in farm.frontends if s.problem]
    text = "\n".join([format_table(rows), *problems])
    if farm.disagreeing:
        shown = ", ".join(sorted(farm.disagreeing)[:10])
        text += f"\nfront-ends disagree on {len(farm.disagreeing)} module(s): {shown}"
    document = {
        "frontends": [
            {
                **describe(s.frontend),
                "reachable": s.reachable,
                "problem": s.problem,
                "live": s.live,
                "behind": s.behind,
                "not_recorded": s.extra,
            }
            for s in farm.frontends
        ],
        "disagreeing": sorted(farm.disagreeing),
    }
    output(args, document, text)
    unreachable = any(not s.reachable for s in farm.frontends if s.frontend.enabled)
    return EXIT_SOME_FAILED if unreachable or farm.disagreeing else EXIT_OK


def add(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    with existing_environment(args) as ctx:
        added = farm_admin.add_frontend(ctx, args.name, args.target, args.health_cmd, adopt_it=args.adopt)
    output(
        args,
        {"frontend": describe(added)},
        f"added front-end {added.name} ({added.location}); the next Deploy All brings it up to date",
    )
    return EXIT_OK


def remove(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    with existing_environment(args) as ctx:
        gone = farm_admin.remove_frontend(ctx, args.name)
    output(
        args,
        {"removed": describe(gone)},
        f"removed front-end {gone.name}; its files at {gone.location} were left as they are",
    )
    return EXIT_OK


def disable(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    with existing_environment(args) as ctx:
        changed = farm_admin.set_enabled(ctx, args.name, False)
    output(
        args,
        {"frontend": describe(changed)},
        f"disabled front-end {changed.name}: runs leave it as it is until it is enabled again",
    )
    return EXIT_OK


def adopt(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    with existing_environment(args) as ctx:
        frontend, previous = farm_admin.adopt_frontend(ctx, args.name)
    was = f" from environment '{previous.name}' ({previous.database})" if previous is not None else ""
    output(
        args,
        {"frontend": describe(frontend), "previous_owner": previous.name if previous else None},
        f"front-end {frontend.name} now belongs to this environment{was}",
    )
    return EXIT_OK


def enable(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    with existing_environment(args) as ctx:
        changed = farm_admin.set_enabled(ctx, args.name, True)
    output(
        args,
        {"frontend": describe(changed)},
        f"enabled front-end {changed.name}; run Deploy All to bring it up to date",
    )
    return EXIT_OK
