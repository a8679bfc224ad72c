"""A quote is valid for a number of days after it is issued."""

from datetime import date, timedelta


def expires_on(issued, valid_days=30):
    return issued + timedelta(days=valid_days)


def is_open(quote, today=None):
    today = today or date.today()
    return quote["status"] == "sent" and today <= expires_on(quote["issued"], quote["valid_days"])
