"""Stock reservations never take a warehouse below zero."""


class OutOfStock(Exception):
    pass


def reserve(levels, warehouse, sku, quantity):
    available = levels.get((warehouse, sku), 0)
    if quantity > available:
        raise OutOfStock(f"{sku} at {warehouse}: {available} left, {quantity} wanted")
    levels[(warehouse, sku)] = available - quantity
    return levels[(warehouse, sku)]


def below_reorder_point(levels, reorder_points):
    return sorted(key for key, level in levels.items() if level < reorder_points.get(key[1], 0))
