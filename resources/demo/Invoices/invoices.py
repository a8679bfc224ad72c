"""Turns a confirmed order into an invoice with taxes and a due date."""

from datetime import date, timedelta
from decimal import Decimal


def next_number(prefix, last_number):
    sequence = int(last_number[len(prefix):]) + 1 if last_number else 1
    return f"{prefix}{sequence:06d}"


def invoice_from_order(order, number, vat_rate, terms_days=30, issued=None):
    issued = issued or date.today()
    net = sum((Decimal(line["total"]) for line in order["lines"]), Decimal("0"))
    vat = (net * vat_rate).quantize(Decimal("0.01"))
    return {
        "number": number,
        "order": order["number"],
        "customer": order["customer_code"],
        "issued": issued.isoformat(),
        "due": (issued + timedelta(days=terms_days)).isoformat(),
        "net": str(net),
        "vat": str(vat),
        "gross": str(net + vat),
    }
