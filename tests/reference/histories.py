"""Random small snapshot histories for the reference test, one fixed seed per history.

1–6 customers with 1–3 subscriptions each over 45–120 days: every status and its synonyms,
MRR changes (to 0 too, and amounts that test rounding), scheduled cancellations, `ended_at`
and `canceled_at` as bare dates or timestamps with and without an offset, reasons in four
languages, subscriptions that disappear and come back, gaps of 1–6 days, and rows that a rule
quarantines (bad MRR; from seed 1000 on also duplicated ids, impossible dates and a foreign
currency). Each subscription walks a small state machine; a day of a history is a file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

PRICES = ["10.00", "25.50", "33.335", "0.00", "99.995", "12.5", "7", "40.00", "15.004", "1.005"]
REASONS = [
    "too expensive", "Trop cher", "zu teuer", "Za drogo", "not using it", "Pas utilisé",
    "missing features", "switched to a competitor", "found a cheaper alternative",
    "Passé à la concurrence", "bad customer service", "Słaba obsługa klienta",
    "card declined", "payment_failed", "Company closed down", "recherche interne",
    "other", "too_expensive", "unused", "switched_service",
]  # fmt: skip
CANCEL_STATUSES = ["canceled", "canceled", "cancelled", "ended", "expired", "incomplete_expired"]
TRIAL_STATUSES = ["trialing", "trialing", "trial", "in_trial", "incomplete"]
PLACEHOLDER_ROW = {"subscription_id": "zz", "customer_id": "ZZ", "status": "trialing", "mrr": "0"}

Row = dict[str, str]


@dataclass
class _Subscription:
    subscription_id: str
    customer_id: str
    phase: str  # pre | trialing | active | past_due | paused | canceled | gone
    status: str
    mrr: str
    reason: str = ""
    canceled_at: str = ""
    ended_at: str = ""

    def forget_the_stop(self) -> None:
        self.reason = self.canceled_at = self.ended_at = ""


def _date_text(rng: random.Random, day: date) -> str:
    draw = rng.random()
    if draw < 0.75:
        return day.isoformat()
    if draw < 0.85:  # late evening in New York: the next day in UTC
        return f"{day.isoformat()}T22:30:00-05:00"
    if draw < 0.93:  # early morning at +02:00: the previous day in UTC
        return f"{day.isoformat()}T01:00:00+02:00"
    return f"{day.isoformat()} 12:00:00"


def _step(rng: random.Random, sub: _Subscription, day: date) -> None:
    """One change of the subscription's state machine."""
    draw = rng.random()
    if sub.phase in ("pre", "gone"):
        if draw < 0.7:
            sub.phase, sub.status = "active", "active"
        else:
            sub.phase, sub.status = "trialing", rng.choice(TRIAL_STATUSES)
        sub.mrr = rng.choice(PRICES)
        if rng.random() < 0.7:
            sub.forget_the_stop()
    elif sub.phase == "trialing":
        if draw < 0.6:
            sub.phase, sub.status = "active", "active"
        elif draw < 0.8:
            sub.phase, sub.status = "canceled", rng.choice(CANCEL_STATUSES)
        elif draw < 0.9:
            sub.phase, sub.status = "paused", "paused"
        else:
            sub.phase = "gone"
    elif sub.phase == "active":
        if draw < 0.3:
            sub.mrr = rng.choice(PRICES)
        elif draw < 0.45:
            sub.phase, sub.status = "past_due", "past_due"
        elif draw < 0.55:
            sub.phase, sub.status = "paused", "paused"
        elif draw < 0.8:
            sub.phase, sub.status = "canceled", rng.choice(CANCEL_STATUSES)
        elif draw < 0.9:
            sub.phase = "gone"
        else:  # a scheduled cancellation
            sub.canceled_at = _date_text(rng, day + timedelta(days=rng.randint(-3, 10)))
            if rng.random() < 0.5:
                sub.reason = rng.choice(REASONS)
    elif sub.phase == "past_due":
        if draw < 0.4:
            sub.phase, sub.status = "active", "active"
        elif draw < 0.6:
            sub.phase, sub.status = "canceled", rng.choice(CANCEL_STATUSES)
        elif draw < 0.85:
            sub.phase, sub.status = "canceled", "unpaid"
        else:
            sub.phase = "gone"
    elif sub.phase == "paused":
        if draw < 0.6:
            sub.phase, sub.status = "active", "active"
            if rng.random() < 0.3:
                sub.mrr = rng.choice(PRICES)
        elif draw < 0.9:
            sub.phase, sub.status = "canceled", rng.choice(CANCEL_STATUSES)
        else:
            sub.phase = "gone"
    elif sub.phase == "canceled":
        if draw < 0.45:
            sub.phase = "gone"
        elif draw < 0.85:
            sub.phase, sub.status = "active", "active"
            if rng.random() < 0.7:
                sub.forget_the_stop()
        else:
            sub.phase, sub.status = "trialing", rng.choice(TRIAL_STATUSES)
    if sub.phase == "canceled":
        _record_the_stop(rng, sub, day)


def _record_the_stop(rng: random.Random, sub: _Subscription, day: date) -> None:
    """The stop happened today (perhaps inside a gap); exports vary in what they say of it."""
    draw = rng.random()
    if draw < 0.6:
        sub.ended_at = _date_text(rng, day)
        if rng.random() < 0.5:
            sub.canceled_at = _date_text(rng, day - timedelta(days=rng.randint(0, 5)))
    elif draw < 0.8:
        sub.ended_at = ""
        sub.canceled_at = _date_text(rng, day - timedelta(days=rng.randint(0, 3)))
    else:
        sub.ended_at = ""
    if rng.random() < 0.55:
        sub.reason = rng.choice(REASONS)
    elif rng.random() < 0.5:
        sub.reason = ""


def random_history(seed: int) -> dict[date, list[Row]]:
    """The files of one history: {snapshot date: rows}, some dates missing (gaps)."""
    rng = random.Random(seed)
    start = date(2023, 10, 1) + timedelta(days=rng.randrange(0, 800))
    span = rng.randint(45, 120)
    change_probability = rng.choice([0.04, 0.07, 0.12])
    days = [start + timedelta(days=i) for i in range(span)]
    rows_by_day: list[list[Row]] = [[] for _ in range(span)]
    for customer in range(rng.randint(1, 6)):
        for number in range(rng.randint(1, 3)):
            phase = "pre"
            if rng.random() < 0.6:
                phase = rng.choice(["active", "active", "active", "trialing", "past_due", "paused"])
            status = phase if phase != "trialing" else rng.choice(TRIAL_STATUSES)
            sub = _Subscription(
                f"s{customer}{number}", f"C{customer}", phase, status, rng.choice(PRICES)
            )
            for index, day in enumerate(days):
                if index > 0 and rng.random() < change_probability:
                    _step(rng, sub, day)
                if sub.phase in ("pre", "gone"):
                    continue
                rows_by_day[index].append(
                    {
                        "subscription_id": sub.subscription_id,
                        "customer_id": sub.customer_id,
                        "status": sub.status,
                        "mrr": sub.mrr,
                        "currency": rng.choice(["", "USD"]) if index == 0 else "USD",
                        "plan": "p",
                        "canceled_at": sub.canceled_at,
                        "ended_at": sub.ended_at,
                        "cancel_reason": sub.reason,
                    }
                )
    missing: set[int] = set()
    for _ in range(rng.choice([0, 1, 2, 3, 4])):
        gap_start = rng.randrange(1, span - 1)
        missing |= set(range(gap_start, min(span - 1, gap_start + rng.randint(1, 6))))
    bad_mrr_probability = rng.choice([0.0, 0.0, 0.02, 0.05])
    return {
        days[index]: _with_bad_rows(rng, seed, index, rows_by_day[index], bad_mrr_probability)
        for index in range(span)
        if index not in missing
    }


def _with_bad_rows(
    rng: random.Random, seed: int, index: int, day_rows: list[Row], bad_mrr_probability: float
) -> list[Row]:
    """A few rows a rule quarantines; never on the first file, never every row of a file."""
    rows = [dict(row) for row in day_rows]
    if index > 0 and len(rows) >= 2:
        bad = 0
        for row in rows:
            if rng.random() < bad_mrr_probability and bad < len(rows) - 1:
                row["mrr"] = rng.choice(["-5.00", "abc"])
                bad += 1
    if seed >= 1000 and index > 0 and len(rows) >= 2 and rng.random() < 0.1:
        copy = dict(rng.choice(rows))  # a duplicated subscription_id: every copy is quarantined
        copy["mrr"] = rng.choice(PRICES)
        rows.append(copy)
    if seed >= 1000 and index > 0 and len(rows) >= 2 and rng.random() < 0.05:
        row = rng.choice(rows)
        if rng.random() < 0.5:
            row["ended_at"] = "2025-02-30"  # an impossible date
        else:
            row["currency"] = "EUR"
    if not rows:  # an empty file is refused: one trialing row keeps the date loaded
        rows = [dict(PLACEHOLDER_ROW)]
    rng.shuffle(rows)
    return rows
