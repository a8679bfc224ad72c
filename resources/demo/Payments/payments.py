"""Matches incoming payments to open invoices."""

from decimal import Decimal


def apply_payment(open_invoices, reference, amount):
    """Settle the invoice named in the reference; return what is left unapplied."""
    amount = Decimal(amount)
    invoice = open_invoices.get(reference.strip().upper())
    if invoice is None:
        return amount
    due = Decimal(invoice["outstanding"])
    paid = min(due, amount)
    invoice["outstanding"] = str(due - paid)
    if due - paid == 0:
        invoice["status"] = "paid"
    return amount - paid


def backoff_seconds(attempt, base=2.0, ceiling=60.0):
    return min(ceiling, base ** attempt)
