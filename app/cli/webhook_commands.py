"""``deploycenter --unattended webhook ...``: add, list, remove and test webhooks, see their deliveries, send.

Every command that opens the environment already sends the events that are due, for a moment;
``webhook send`` sends all of them and waits for each, for cron (exit 1 when a try failed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.parsing import CancelSignal, CommandSet, positive_int
from app.cli.shared import EXIT_OK, EXIT_SOME_FAILED, existing_environment, format_table, location_of, output
from app.engine.opening import existing

EVENT_NAMES = "run-started, run-finished, run-failed, approval-needed, emergency"


def register(commands: CommandSet) -> None:
    actions = commands.group(
        "webhook",
        "add, list, remove or test webhooks; see and send their deliveries",
        "Tell other tools (chat, ticketing, monitoring) what happens, as signed CloudEvents.",
    )
    p = actions.command("add", "post events to URL from now on", add)
    p.add_argument("url", metavar="URL", help="http:// or https://")
    p.add_argument("--secret-file", metavar="FILE", type=Path, help="a file holding the secret that signs each body")
    p.add_argument("--events", metavar="E,...", help=f"the events to send (default all: {EVENT_NAMES})")
    actions.command("list", "every webhook, its events and its last delivery", list_webhooks)
    p = actions.command("remove", "forget a webhook and what still waits for it", remove)
    p.add_argument("id", type=positive_int, metavar="ID")
    p = actions.command("test", "send a ping to a webhook now and say how it went", test)
    p.add_argument("id", type=positive_int, metavar="ID")
    p = actions.command("deliveries", "the newest deliveries and how their tries went", deliveries)
    p.add_argument("--limit", type=positive_int, default=50, metavar="N")
    p.add_argument("--webhook", type=positive_int, metavar="ID", help="only this webhook's")
    actions.command("send", "send every event that is due now (for cron); exit 1 when a try failed", send)


def add(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.webhooks.admin import add_webhook
    from app.engine.webhooks.outbox import parse_events

    events = parse_events(args.events) if args.events is not None else None
    with existing_environment(args) as ctx:
        hook = add_webhook(ctx, args.url, args.secret_file, events)
    signed = "signed" if hook.signed else "not signed"
    output(args, {"webhook": hook.to_json()}, f"webhook {hook.id} added: {hook.url} ({signed})")
    return EXIT_OK


def list_webhooks(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.webhooks.admin import list_webhooks as listed

    with existing_environment(args) as ctx:
        hooks = listed(ctx)
    rows = [("ID", "URL", "EVENTS", "SIGNED", "LAST DELIVERY")]
    for hook in hooks:
        events = "all" if hook.every_event else ",".join(hook.events)
        last = "" if hook.last is None else f"{hook.last.event} {hook.last.state} {hook.last.result or ''}".strip()
        rows.append((str(hook.id), hook.url, events, "yes" if hook.signed else "no", last))
    text = format_table(rows) if hooks else "no webhooks"
    output(args, {"webhooks": [hook.to_json() for hook in hooks]}, text)
    return EXIT_OK


def remove(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.webhooks.admin import remove_webhook

    with existing_environment(args) as ctx:
        remove_webhook(ctx, args.id)
    output(args, {"removed": args.id}, f"webhook {args.id} removed")
    return EXIT_OK


def test(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.webhooks.admin import queue_ping
    from app.engine.webhooks.sender import send_due

    with existing(location_of(args), send_events=False) as ctx:
        delivery = queue_ping(ctx, args.id)
        report = send_due(ctx.db, delivery_ids=[delivery])
    if report.delivered:
        text = f"webhook {args.id}: the ping was delivered"
    else:
        why = "; ".join(report.failures) or "not sent"
        text = f"webhook {args.id}: the ping was not delivered ({why}); it will be retried"
    output(args, {"delivered": report.delivered == 1, "failures": report.failures}, text)
    return EXIT_OK if report.delivered else EXIT_SOME_FAILED


def deliveries(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.webhooks.admin import deliveries as listed

    with existing_environment(args) as ctx:
        found = listed(ctx, args.limit, args.webhook)
    rows = [("ID", "WEBHOOK", "EVENT", "STATE", "TRIES", "LAST TRY", "RESULT", "NEXT TRY", "EVENT ID")]
    for d in found:
        rows.append(
            (
                str(d.id),
                str(d.webhook_id),
                d.event,
                d.state,
                str(d.attempts),
                f"{d.last_try_at:%Y-%m-%d %H:%M:%S}" if d.last_try_at else "",
                d.last_result or "",
                f"{d.next_try_at:%Y-%m-%d %H:%M:%S}" if d.next_try_at else "",
                d.event_id,
            )
        )
    output(args, {"deliveries": [d.to_json() for d in found]}, format_table(rows) if found else "no deliveries")
    return EXIT_OK


def send(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.webhooks.sender import send_due

    with existing(location_of(args), send_events=False) as ctx:
        report = send_due(ctx.db, stop=cancel)
    lines = [f"{report.delivered} delivered, {report.failed} failed ({report.dead} given up)"]
    lines += [f"failed: {failure}" for failure in report.failures]
    document = {
        "delivered": report.delivered,
        "failed": report.failed,
        "dead": report.dead,
        "failures": report.failures,
    }
    output(args, document, "\n".join(lines))
    return EXIT_SOME_FAILED if report.failed else EXIT_OK
