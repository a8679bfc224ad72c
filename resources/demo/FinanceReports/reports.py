"""Receivables ageing buckets for the finance dashboard."""

from datetime import date
from decimal import Decimal

BUCKETS = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"))


def ageing(invoices, today=None):
    today = today or date.today()
    totals = {label: Decimal("0") for _, label in BUCKETS}
    totals["over 90"] = Decimal("0")
    for invoice in invoices:
        late = (today - date.fromisoformat(invoice["due"])).days
        label = "over 90"
        for limit, name in BUCKETS:
            if late <= limit:
                label = name
                break
        totals[label] += Decimal(invoice["outstanding"])
    return totals
