"""Journal entries must balance before they are posted."""

from decimal import Decimal


class UnbalancedEntry(ValueError):
    pass


def post(entry, accounts):
    """Check an entry's debits equal its credits and that every account exists."""
    debit = sum((Decimal(line["debit"]) for line in entry["lines"]), Decimal("0"))
    credit = sum((Decimal(line["credit"]) for line in entry["lines"]), Decimal("0"))
    if debit != credit:
        raise UnbalancedEntry(f"entry {entry['id']}: debits {debit} != credits {credit}")
    unknown = [line["account"] for line in entry["lines"] if line["account"] not in accounts]
    if unknown:
        raise KeyError(f"entry {entry['id']} uses unknown accounts: {', '.join(unknown)}")
    return debit
