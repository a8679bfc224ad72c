"""Formatting and paging helpers shared by every screen."""

from decimal import ROUND_HALF_UP, Decimal
import re

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def format_money(amount, currency="EUR"):
    """Two decimals, rounded the way accountants expect."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:,} {currency}"


def slugify(text):
    return _SLUG_JUNK.sub("-", text.lower()).strip("-")


def paginate(rows, page, page_size=25):
    """One page of rows plus the number of pages, pages counted from 1."""
    if page_size <= 0:
        raise ValueError("page size must be positive")
    pages = max(1, -(-len(rows) // page_size))
    page = min(max(page, 1), pages)
    start = (page - 1) * page_size
    return rows[start:start + page_size], pages
