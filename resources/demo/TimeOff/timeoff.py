"""Counts working days in a request and checks the remaining balance."""

from datetime import timedelta


def working_days(start, end, holidays=()):
    day, count = start, 0
    while day <= end:
        if day.weekday() < 5 and day not in holidays:
            count += 1
        day += timedelta(days=1)
    return count


def check_balance(balance, start, end, holidays=()):
    wanted = working_days(start, end, holidays)
    if wanted > balance:
        raise ValueError(f"{wanted} days requested but only {balance} left")
    return balance - wanted
