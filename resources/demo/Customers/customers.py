"""Customer records and the credit check used when an order is placed."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class Customer:
    code: str
    name: str
    email: str
    credit_limit: Decimal
    open_balance: Decimal = Decimal("0")
    active: bool = True


def can_order(customer, amount):
    """True when the customer is active and the order stays within their credit."""
    if not customer.active:
        return False
    return customer.open_balance + Decimal(amount) <= customer.credit_limit


def search(customers, text):
    needle = text.strip().lower()
    return [c for c in customers if needle in c.name.lower() or needle == c.code.lower()]
