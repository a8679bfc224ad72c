"""Unit prices from a price list, with the best volume discount applied."""

from decimal import Decimal


def unit_price(price_list, sku, quantity):
    entry = price_list["items"][sku]
    price = Decimal(entry["price"])
    best = Decimal("0")
    for tier in entry.get("tiers", []):
        if quantity >= tier["from"]:
            best = max(best, Decimal(tier["discount"]))
    return (price * (1 - best)).quantize(Decimal("0.01"))


def line_total(price_list, sku, quantity):
    return unit_price(price_list, sku, quantity) * quantity
