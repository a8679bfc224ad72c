"""``deploycenter --unattended frontend ...``: list, add, set, remove, disable, enable and adopt front-ends."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.parsing import CancelSignal, CommandSet, seconds
from app.cli.shared import EXIT_OK, EXIT_SOME_FAILED, existing_environment, format_table, output

if TYPE_CHECKING:
    from app.engine.farm_admin import HookSettings
    from app.engine.frontend.registry import Frontend

HOOK_OPTIONS = ("drain-cmd", "undrain-cmd", "health-cmd", "health-url", "health-timeout")


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
    hook_arguments(p)
    p.add_argument("--adopt", action="store_true", help="take it over from an environment that owns it")
    p = actions.command("set", "set or clear a front-end's drain, undrain and health hooks", set_hooks)
    p.add_argument("name", metavar="NAME")
    hook_arguments(p)
    p.add_argument(
        "--clear",
        metavar="OPTION",
        action="append",
        default=[],
        choices=HOOK_OPTIONS,
        help=f"remove one of its hooks ({', '.join(HOOK_OPTIONS)}); repeatable",
    )
    p = actions.command("remove", "forget a front-end (its files stay)", remove)
    p.add_argument("name", metavar="NAME")
    p = actions.command("disable", "take a front-end out of every run", disable)
    p.add_argument("name", metavar="NAME")
    p = actions.command("enable", "bring a front-end back into runs", enable)
    p.add_argument("name", metavar="NAME")
    p = actions.command("adopt", "take over a front-end stamped by another environment", adopt)
    p.add_argument("name", metavar="NAME")


def hook_arguments(p: argparse.ArgumentParser) -> None:
    """The hooks of a rolling run, as ``frontend add`` and ``frontend set`` take them."""
    p.add_argument(
        "--drain-cmd", metavar="CMD", help="takes it out of its load balancer before a rolling switch; must exit 0"
    )
    p.add_argument("--undrain-cmd", metavar="CMD", help="puts it back once it is switched and healthy; must exit 0")
    p.add_argument(
        "--health-cmd", metavar="CMD", help="run on this machine after a switch and during a soak; must exit 0"
    )
    p.add_argument(
        "--health-url",
        metavar="URL",
        help="http(s) URL that must answer 2xx after a switch and during a soak; {frontend} and {module} are filled in",
    )
    p.add_argument(
        "--health-timeout",
        type=seconds,
        metavar="SECONDS",
        help="how long after a switch its checks may take to pass (default 60)",
    )


def hook_settings(args: argparse.Namespace) -> HookSettings:
    from app.engine.farm_admin import HookSettings

    return HookSettings(
        drain_cmd=args.drain_cmd,
        undrain_cmd=args.undrain_cmd,
        health_cmd=args.health_cmd,
        health_url=args.health_url,
        health_timeout=args.health_timeout,
        clear=frozenset(getattr(args, "clear", ())),
    )


def describe(frontend: Frontend) -> dict[str, Any]:
    return {
        "name": frontend.name,
        "path": frontend.location,
        "kind": frontend.kind,
        "enabled": frontend.enabled,
        "health_cmd": frontend.health_cmd,
        "health_url": frontend.health_url,
        "health_timeout": frontend.health_timeout,
        "drain_cmd": frontend.drain_cmd,
        "undrain_cmd": frontend.undrain_cmd,
        "drained_by": frontend.drained_by,
    }


def hooks_text(frontend: Frontend) -> str:
    """A front-end's hooks, one per line, for people."""
    shown = [
        ("drain", frontend.drain_cmd),
        ("undrain", frontend.undrain_cmd),
        ("health command", frontend.health_cmd),
        ("health URL", frontend.health_url),
        ("health timeout", None if frontend.health_timeout is None else f"{frontend.health_timeout:g} s"),
    ]
    return "\n".join(f"  {label}: {value}" for label, value in shown if value is not None)


def list_frontends(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    if args.check:
        return _checked_list(args)
    with existing_environment(args) as ctx:
        found = farm_admin.list_frontends(ctx)
    rows = [("NAME", "KIND", "ENABLED", "DRAINED", "TARGET", "HEALTH CHECK")]
    rows += [
        (
            f.name,
            f.kind,
            "yes" if f.enabled else "no",
            "" if f.drained_by is None else f"by run {f.drained_by}",
            f.location,
            " ; ".join(check for check in (f.health_cmd, f.health_url) if check),
        )
        for f in found
    ]
    hooks = [f"{f.name}:\n{hooks_text(f)}" for f in found if f.drain_cmd or f.undrain_cmd]
    output(args, {"frontends": [describe(f) for f in found]}, "\n".join([format_table(rows), *hooks]))
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
        added = farm_admin.add_frontend(ctx, args.name, args.target, hook_settings(args), adopt_it=args.adopt)
    output(
        args,
        {"frontend": describe(added)},
        f"added front-end {added.name} ({added.location}); the next Deploy All brings it up to date",
    )
    return EXIT_OK


def set_hooks(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import farm_admin

    with existing_environment(args) as ctx:
        changed = farm_admin.set_hooks(ctx, args.name, hook_settings(args))
    hooks = hooks_text(changed)
    output(
        args,
        {"frontend": describe(changed)},
        f"front-end {changed.name} changed; its hooks now:\n{hooks}"
        if hooks
        else f"front-end {changed.name} has no hooks now",
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
