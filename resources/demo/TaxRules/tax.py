"""Looks up the VAT rate for a sale; reduced rates depend on the product category."""

from decimal import Decimal


def vat_rate(rates, country, category="standard"):
    country_rates = rates.get(country)
    if country_rates is None:
        raise KeyError(f"no VAT rates for country {country}")
    return Decimal(country_rates.get(category, country_rates["standard"]))


def vat_amount(net, rate):
    return (Decimal(net) * rate).quantize(Decimal("0.01"))
