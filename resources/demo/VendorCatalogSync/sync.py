"""Compares the supplier feed with our catalog and lists what to add, change or retire."""


def plan_sync(ours, theirs):
    ours_by_sku = {item["sku"]: item for item in ours}
    theirs_by_sku = {item["sku"]: item for item in theirs}
    added = sorted(set(theirs_by_sku) - set(ours_by_sku))
    retired = sorted(set(ours_by_sku) - set(theirs_by_sku))
    changed = sorted(sku for sku in set(ours_by_sku) & set(theirs_by_sku)
                     if ours_by_sku[sku]["cost"] != theirs_by_sku[sku]["cost"])
    return {"added": added, "changed": changed, "retired": retired}
