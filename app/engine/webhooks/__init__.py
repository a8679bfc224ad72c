"""Webhooks as an outbox: events recorded with what they report, then sent until each receiver has them.

``outbox`` records an event in the writer transaction of what it reports, one delivery per
webhook that wants it. ``deliveries`` claims the deliveries that are due with a lease, so that
two processes never send the same try, and records each try's outcome and the next one's time.
``sender`` posts them (CloudEvents 1.0, signed), from a background thread of every command that
opens the environment or from ``webhook send``. ``admin`` adds, lists, removes and tests webhooks.
"""
