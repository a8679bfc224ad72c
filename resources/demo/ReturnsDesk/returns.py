"""A return is accepted within a window after delivery."""

from datetime import date, timedelta


def accept_return(parcel, requested_on, window_days=30):
    if parcel["status"] != "delivered":
        return False, "the parcel has not been delivered yet"
    deadline = date.fromisoformat(parcel["delivered_on"]) + timedelta(days=window_days)
    if requested_on > deadline:
        return False, f"the return window closed on {deadline.isoformat()}"
    return True, ""
