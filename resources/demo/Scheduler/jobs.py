"""A tiny cron-like planner: which jobs are due at a given minute."""

from datetime import datetime, timedelta


def parse_every(text):
    """'15m', '2h' or '1d' as a timedelta."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    amount, unit = int(text[:-1]), text[-1]
    if unit not in units or amount <= 0:
        raise ValueError(f"bad interval {text!r}")
    return timedelta(**{units[unit]: amount})


def due_jobs(jobs, last_runs, now=None):
    now = now or datetime.now()
    due = []
    for job in jobs:
        last = last_runs.get(job["name"])
        if last is None or now - last >= parse_every(job["every"]):
            due.append(job["name"])
    return sorted(due)
