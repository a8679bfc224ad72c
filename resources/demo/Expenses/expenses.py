"""An expense claim needs receipts above a threshold and a manager's approval."""

from decimal import Decimal


def missing_receipts(claim, threshold="25"):
    limit = Decimal(threshold)
    return [item["id"] for item in claim["items"]
            if Decimal(item["amount"]) > limit and not item.get("receipt")]


def approve(claim, approver):
    if approver == claim["employee"]:
        raise PermissionError("nobody approves their own expense claim")
    if missing_receipts(claim):
        raise ValueError(f"claim {claim['id']} is missing receipts")
    claim["status"] = "approved"
    claim["approved_by"] = approver
    return claim
