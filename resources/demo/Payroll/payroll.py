"""Gross-to-net for a monthly salary with a flat withholding rate."""

from decimal import ROUND_HALF_UP, Decimal


def net_pay(gross, withholding_rate, social_rate="0.11"):
    gross = Decimal(gross)
    withheld = gross * Decimal(withholding_rate)
    social = gross * Decimal(social_rate)
    return (gross - withheld - social).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def payment_batch(employees, month):
    return [
        {"iban": e["iban"], "amount": str(net_pay(e["gross"], e["withholding"])), "reference": f"SAL {month}"}
        for e in employees
        if e["active"]
    ]
