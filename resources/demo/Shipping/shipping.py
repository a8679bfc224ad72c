"""Splits an order's items into parcels that stay under the carrier's weight limit."""


def pack(items, max_kg=30.0):
    parcels, current, weight = [], [], 0.0
    for item in sorted(items, key=lambda i: i["weight_kg"], reverse=True):
        if item["weight_kg"] > max_kg:
            raise ValueError(f"{item['sku']} alone weighs more than {max_kg} kg")
        if weight + item["weight_kg"] > max_kg:
            parcels.append(current)
            current, weight = [], 0.0
        current.append(item["sku"])
        weight += item["weight_kg"]
    if current:
        parcels.append(current)
    return parcels
