"""``deploycenter --unattended audit [verify | export]``: the audit log, listed, proved and exported.

``audit`` alone lists the newest entries. ``audit verify`` walks the hash chain and exits 1 naming
the first entry changed, removed or moved; it prints the head (``ID:SHA256``) to keep elsewhere,
and ``--head`` checks one kept earlier. ``audit export`` streams every entry to stdout in its own
format (JSON lines or CSV), whatever ``--json`` says.
"""

from __future__ import annotations

import argparse

from app.cli.parsing import CancelSignal, CommandSet, Parser, positive_int
from app.cli.shared import EXIT_OK, EXIT_SOME_FAILED, existing_environment, format_table, output, stream_out


def register(commands: CommandSet) -> None:
    p = commands.command("audit", "who did what and when, newest first; verify or export the log", list_entries)
    p.add_argument("--limit", type=positive_int, default=50, metavar="N")
    actions = CommandSet(p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser))
    p = actions.command("verify", "check the audit log's hash chain from its first entry to its last", verify)
    p.add_argument("--head", metavar="ID:SHA256", help="a head printed earlier: check that it is still in the chain")
    p = actions.command("export", "every entry to stdout, oldest first (secrets masked)", export)
    p.add_argument("--since", metavar="ISO_DATE", help="only entries at or after this date or date-time (UTC)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="jsonl (default) or csv")


def list_entries(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.read import views

    with existing_environment(args) as ctx:
        entries = views.audit_entries(ctx, args.limit)
    table = [("ID", "WHEN", "WHO", "OPERATION", "TARGET", "RESULT", "DETAIL")]
    table += [
        (str(e.id), f"{e.at:%Y-%m-%d %H:%M:%S}", e.who, e.operation, e.target, e.result, e.detail or "")
        for e in entries
    ]
    output(args, {"audit": [e.to_json() for e in entries]}, format_table(table))
    return EXIT_OK


def verify(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.audit_chain import Head
    from app.engine.read.audit_log import verify_log

    expected = Head.parse(args.head) if args.head is not None else None
    with existing_environment(args) as ctx:
        report = verify_log(ctx, expected)
    head = str(report.head) if report.head is not None else None
    if report.ok:
        lines = [f"audit log: {report.entries} entries, the chain holds from the first to the last"]
        if expected is not None:
            lines.append(f"entry {expected.id} of the given head is in the chain")
        lines.append(f"head: {head or 'none (the log is empty)'}")
    else:
        lines = [f"audit log: the chain is broken: {report.problem}", f"intact up to: {head or 'no entry'}"]
    document = {
        "ok": report.ok,
        "entries": report.entries,
        "head": head,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }
    output(args, document, "\n".join(lines))
    return EXIT_OK if report.ok else EXIT_SOME_FAILED


def export(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.read.audit_log import export_log, parse_since

    since = parse_since(args.since) if args.since is not None else None
    with existing_environment(args) as ctx:
        stream_out(export_log(ctx, args.format, since))
    return EXIT_OK
