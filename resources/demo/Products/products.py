"""Product lookups and the rules for a valid stock-keeping unit."""

import re

SKU_PATTERN = re.compile(r"^[A-Z]{3}-\d{4}$")


def validate_sku(sku):
    if not SKU_PATTERN.match(sku):
        raise ValueError(f"SKU {sku!r} must look like ABC-1234")
    return sku


def by_category(products):
    grouped = {}
    for product in products:
        grouped.setdefault(product["category"], []).append(product)
    return {name: sorted(items, key=lambda p: p["name"]) for name, items in grouped.items()}
