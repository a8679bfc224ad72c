"""Reduces a parcel's carrier events to the status customers see."""

ORDER = ["booked", "picked-up", "in-transit", "out-for-delivery", "delivered"]


def latest_status(events):
    """The furthest step reached; an exception event wins over everything."""
    if any(event["code"] == "exception" for event in events):
        return "needs-attention"
    reached = [ORDER.index(e["code"]) for e in events if e["code"] in ORDER]
    return ORDER[max(reached)] if reached else "booked"
