"""Picks the warehouse that ships an order: the nearest one that is open."""

import math


def distance_km(a, b):
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def nearest_open(sites, destination):
    open_sites = [site for site in sites if site["open"]]
    if not open_sites:
        raise LookupError("no warehouse is open")
    return min(open_sites, key=lambda site: distance_km(site["location"], destination))
