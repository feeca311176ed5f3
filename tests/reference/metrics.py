"""An independent reference of METRICS.md §1–§6: movements, daily totals and the period tables.

Plain Python written from the METRICS.md text (and docs/metric-decisions.md where the contract
is silent), sharing no code or SQL with the pipeline: tests/test_against_reference.py runs both
on random histories and compares every column. It is slow and simple on purpose: every
customer on every snapshot, every day of every period. The business time zone is UTC and the
reporting currency USD (the test settings' defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

STATUS = {
    "trialing": "trialing", "incomplete": "trialing", "trial": "trialing", "in_trial": "trialing",
    "active": "active", "past_due": "past_due", "paused": "paused",
    "canceled": "canceled", "cancelled": "canceled", "ended": "canceled", "expired": "canceled",
    "incomplete_expired": "canceled", "unpaid": "canceled",
}  # fmt: skip
STOPS_INVOLUNTARILY = {"unpaid"}
# the reasons tests/reference/histories.py writes, labelled by hand from METRICS.md §6
REASON_CATEGORY = {
    "too expensive": "price_financial", "trop cher": "price_financial",
    "zu teuer": "price_financial", "za drogo": "price_financial",
    "not using it": "no_value", "pas utilisé": "no_value",
    "missing features": "unmet_expectations",
    "switched to a competitor": "competitor", "found a cheaper alternative": "competitor",
    "passé à la concurrence": "competitor",
    "bad customer service": "poor_service", "słaba obsługa klienta": "poor_service",
    "card declined": "payment_failed", "payment_failed": "payment_failed",
    "company closed down": "other", "recherche interne": "other", "other": "other",
    "too_expensive": "price_financial", "unused": "no_value", "switched_service": "competitor",
}  # fmt: skip
GRAINS = ("day", "week", "month", "quarter", "half_year", "year")

Row = dict[str, str]
CustomerState = tuple[bool, int]  # (active, paying MRR in cents)


@dataclass(frozen=True)
class Subscription:
    """A valid row's state (§1)."""

    status: str
    status_raw: str
    mrr_cents: int
    customer_id: str
    reason: str
    canceled_at: date | None
    ended_at: date | None


@dataclass
class Movement:
    customer_id: str
    observed_on: date
    movement_date: date
    movement: str
    mrr_before: int
    mrr_after: int
    churn_type: str | None = None
    category: str | None = None
    reason_raw: str | None = None


@dataclass
class Reference:
    periods: dict[tuple[str, date], dict[str, Any]] = field(default_factory=dict)
    reasons: dict[tuple[str, date, str], dict[str, Any]] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    # each day's end state per customer, first snapshot .. latest
    daily: dict[date, dict[str, CustomerState]] = field(default_factory=dict)
    snapshots: list[date] = field(default_factory=list)


def cents(text: str) -> int | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def business_date(text: str | None) -> date | None:
    """A bare date is that date; a timestamp is converted to UTC (raises when impossible)."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def parse_row(row: Row) -> Subscription | None:
    """The row's state, or None when a rule quarantines it."""
    status_raw = (row.get("status") or "").strip()
    mrr = cents(row.get("mrr") or "")
    if status_raw not in STATUS or mrr is None:
        return None
    if (row.get("currency") or "").strip() not in ("", "USD"):
        return None
    try:
        canceled_at = business_date(row.get("canceled_at"))
        ended_at = business_date(row.get("ended_at"))
        business_date(row.get("started_at"))
    except ValueError:
        return None
    return Subscription(
        status=STATUS[status_raw],
        status_raw=status_raw,
        mrr_cents=mrr,
        customer_id=row["customer_id"].strip(),
        reason=(row.get("cancel_reason") or "").strip(),
        canceled_at=canceled_at,
        ended_at=ended_at,
    )


def period_start(grain: str, day: date) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain == "half_year":
        return date(day.year, 1 if day.month <= 6 else 7, 1)
    return date(day.year, 1, 1)


def _add_months(day: date, months: int) -> date:
    years, month = divmod(day.month - 1 + months, 12)
    return date(day.year + years, month + 1, 1)


def period_end(grain: str, start: date) -> date:
    """The exclusive end."""
    if grain == "day":
        return start + timedelta(days=1)
    if grain == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}[grain]
    return _add_months(start, months)


def _ratio(top: float, bottom: float) -> float | None:
    return None if bottom == 0 else top / bottom


class _History:
    """Subscription states per snapshot: quarantined rows carry the previous snapshot's state."""

    def __init__(self, files: dict[date, list[Row]], grace_days: int | None) -> None:
        self.snapshots = sorted(files)
        self.grace_days = grace_days
        self.states: dict[date, dict[str, Subscription]] = {}
        previous: dict[str, Subscription] = {}
        for day in self.snapshots:
            ids = [(row.get("subscription_id") or "").strip() for row in files[day]]
            current: dict[str, Subscription] = {}
            for row, subscription_id in zip(files[day], ids, strict=True):
                state = parse_row(row) if ids.count(subscription_id) == 1 else None
                if state is not None:
                    current[subscription_id] = state
                elif subscription_id and subscription_id in previous:
                    current[subscription_id] = previous[subscription_id]
            self.states[day] = current
            previous = current
        self.spell_start: dict[date, dict[str, date]] = {}
        previous_spells: dict[str, date] = {}
        for day in self.snapshots:
            spells = {
                subscription_id: previous_spells.get(subscription_id, day)
                for subscription_id, state in self.states[day].items()
                if state.status == "past_due"
            }
            self.spell_start[day] = spells
            previous_spells = spells

    def paying(self, day: date, subscription_id: str) -> bool:
        state = self.states[day].get(subscription_id)
        if state is None or state.status not in ("active", "past_due") or state.mrr_cents <= 0:
            return False
        if state.status == "past_due" and self.grace_days is not None:
            return (day - self.spell_start[day][subscription_id]).days < self.grace_days
        return True

    def held(self, day: date, subscription_id: str) -> bool:
        state = self.states[day].get(subscription_id)
        return state is not None and state.status == "paused"


def compute(files: dict[date, list[Row]], grace_days: int | None = None) -> Reference:
    history = _History(files, grace_days)
    snapshots = history.snapshots
    first, latest = snapshots[0], snapshots[-1]
    customers = sorted(
        {state.customer_id for day in snapshots for state in history.states[day].values()}
    )

    customer_states: dict[date, dict[str, CustomerState]] = {}
    ever_active: set[str] = set()
    for day in snapshots:
        states = {}
        for customer in customers:
            subscriptions = [
                s for s, state in history.states[day].items() if state.customer_id == customer
            ]
            paying = [s for s in subscriptions if history.paying(day, s)]
            held = [s for s in subscriptions if history.held(day, s)]
            active = bool(paying) or (bool(held) and (customer in ever_active or day == first))
            mrr = sum(history.states[day][s].mrr_cents for s in paying) if active else 0
            states[customer] = (active, mrr)
        ever_active |= {customer for customer, (active, _) in states.items() if active}
        customer_states[day] = states

    reference = Reference(snapshots=snapshots)
    reference.movements = _movements(history, customers, customer_states)
    reference.daily = _daily_states(history, customers, customer_states, reference.movements)
    _periods(reference, customers, reference.daily, first, latest)
    return reference


def daily_totals(reference: Reference) -> dict[tuple[date], dict[str, Any]]:
    """`core.daily_customer_totals`: each day's active customers, their MRR, the paying ones."""
    totals = {}
    for day, states in reference.daily.items():
        active = [state for state in states.values() if state[0]]
        totals[(day,)] = {
            "active_customers": len(active),
            "mrr": sum(mrr for _, mrr in active),
            "paying_customers": sum(1 for _, mrr in active if mrr > 0),
            "has_snapshot": day in reference.snapshots,
        }
    return totals


def kpis(reference: Reference) -> dict[tuple[str, date], dict[str, Any]]:
    """`reporting.kpis_by_period` (docs/tables.md): ARPA, the trailing six complete months'
    mean logo churn rate, lifetime value and the quick ratio."""
    latest = reference.snapshots[-1]
    complete_months = {
        start: row
        for (grain, start), row in reference.periods.items()
        if grain == "month" and row["is_complete"]
    }
    rows = {}
    for (grain, start), row in reference.periods.items():
        end = row["period_end"]
        states = reference.daily[min(end - timedelta(days=1), latest)]
        paying = sum(1 for active, mrr in states.values() if active and mrr > 0)
        arpa = _ratio(row["mrr_end"], paying)
        recent = sorted(
            (month for month, m in complete_months.items() if m["period_end"] <= end), reverse=True
        )[:6]
        rates = [
            complete_months[month]["logo_churn_rate"]
            for month in recent
            if complete_months[month]["logo_churn_rate"] is not None
        ]
        trailing = sum(rates) / len(rates) if rates else None
        gained = row["new_mrr"] + row["expansion_mrr"] + row["reactivation_mrr"]
        lost = row["churned_mrr"] + row["contraction_mrr"]
        rows[(grain, start)] = {
            "period_end": end,
            "is_complete": row["is_complete"],
            "paying_customers_end": paying,
            "arpa": arpa,
            "trailing_6m_monthly_logo_churn": trailing,
            "customer_lifetime_value": (
                arpa / trailing if len(recent) >= 6 and trailing and arpa is not None else None
            ),
            "quick_ratio": _ratio(gained, lost),
        }
    return rows


def _movements(
    history: _History, customers: list[str], states: dict[date, dict[str, CustomerState]]
) -> list[Movement]:
    snapshots = history.snapshots
    movements = []
    seen_active = {c for c in customers if states[snapshots[0]][c][0]}
    for previous, day in pairwise(snapshots):
        for customer in customers:
            (was_active, mrr_before), (is_active, mrr_after) = (
                states[previous][customer],
                states[day][customer],
            )
            kind = None
            if not was_active and is_active:
                kind = "reactivation" if customer in seen_active else "new"
            elif was_active and not is_active:
                kind = "churn"
            elif was_active and is_active and mrr_after != mrr_before:
                kind = "expansion" if mrr_after > mrr_before else "contraction"
            if kind is not None:
                movement = Movement(
                    customer_id=customer,
                    observed_on=day,
                    movement_date=day,
                    movement=kind,
                    mrr_before=mrr_before if was_active else 0,
                    mrr_after=mrr_after if is_active else 0,
                )
                if kind == "churn":
                    _explain_churn(history, movement, previous)
                movements.append(movement)
            if is_active:
                seen_active.add(customer)
    return movements


def _explain_churn(history: _History, movement: Movement, previous: date) -> None:
    """§3: the gap date, churn type and reason category of a churn."""
    day = movement.observed_on
    stopped = [
        s
        for s, state in history.states[previous].items()
        if state.customer_id == movement.customer_id
        and (history.paying(previous, s) or history.held(previous, s))
    ]
    stop_dates: list[date] = []
    reasons: list[tuple[int, str, str]] = []
    in_dunning = False
    for subscription_id in stopped:
        before = history.states[previous][subscription_id]
        after = history.states[day].get(subscription_id)
        ended_at = (after.ended_at if after else None) or before.ended_at
        canceled_at = (after.canceled_at if after else None) or before.canceled_at
        reason = (after.reason if after else "") or before.reason
        stop_date = ended_at or canceled_at
        if stop_date is not None:
            stop_dates.append(stop_date)
        paying_mrr = before.mrr_cents if history.paying(previous, subscription_id) else 0
        if reason:
            reasons.append((-paying_mrr, subscription_id, reason))
        # past due before, or now (its grace days ran out, or N = 0), or stopped into unpaid
        if before.status == "past_due" or (
            after and (after.status == "past_due" or after.status_raw in STOPS_INVOLUNTARILY)
        ):
            in_dunning = True
    if stop_dates and (day - previous).days > 1:
        latest_stop = max(stop_dates)
        if previous < latest_stop < day:
            movement.movement_date = latest_stop
    reason = min(reasons)[2] if reasons else ""
    category = REASON_CATEGORY[reason.lower()] if reason else None
    involuntary = category == "payment_failed" or (not reason and in_dunning)
    movement.churn_type = "involuntary" if involuntary else "voluntary"
    movement.category = category or ("payment_failed" if involuntary else "unknown")
    movement.reason_raw = reason or None


def _daily_states(
    history: _History,
    customers: list[str],
    states: dict[date, dict[str, CustomerState]],
    movements: list[Movement],
) -> dict[date, dict[str, CustomerState]]:
    """Each day's end state: a snapshot's carries over a gap until a churn dated inside it."""
    snapshots = history.snapshots
    churn_in_gap = {
        (m.customer_id, m.observed_on): m.movement_date
        for m in movements
        if m.movement == "churn" and m.movement_date != m.observed_on
    }
    daily: dict[date, dict[str, CustomerState]] = {}
    following = [*snapshots[1:], snapshots[-1] + timedelta(days=1)]
    for snapshot, next_snapshot in zip(snapshots, following, strict=True):
        day = snapshot
        while day < next_snapshot:
            state = dict(states[snapshot])
            for customer in customers:
                churned_on = churn_in_gap.get((customer, next_snapshot))
                if day > snapshot and churned_on is not None and day >= churned_on:
                    state[customer] = (False, 0)
            daily[day] = state
            day += timedelta(days=1)
    return daily


def _periods(
    reference: Reference,
    customers: list[str],
    daily: dict[date, dict[str, CustomerState]],
    first: date,
    latest: date,
) -> None:
    one_day = timedelta(days=1)
    for grain in GRAINS:
        start = period_start(grain, first)
        while start <= latest:
            end = period_end(grain, start)
            if start - one_day >= first:
                reference.periods[(grain, start)] = _period_row(
                    reference, customers, daily, grain, start, end, latest
                )
            start = end


def _period_row(
    reference: Reference,
    customers: list[str],
    daily: dict[date, dict[str, CustomerState]],
    grain: str,
    start: date,
    end: date,
    latest: date,
) -> dict[str, Any]:
    one_day = timedelta(days=1)
    complete = latest >= end - one_day
    last_day = end - one_day if complete else latest
    at_start, at_end = daily[start - one_day], daily[last_day]
    movements = [m for m in reference.movements if start <= m.movement_date <= last_day]

    def total(kind: str, amount: Any = None) -> int:
        chosen = [m for m in movements if m.movement == kind]
        return len(chosen) if amount is None else sum(amount(m) for m in chosen)

    base = [c for c in customers if at_start[c][0]]
    churned = total("churn")
    exposed = 0
    day = start
    while day <= last_day:
        exposed += sum(1 for c in customers if daily[day - one_day][c][0])
        day += one_day
    days_in_period = (end - start).days
    mrr_start = sum(at_start[c][1] for c in base)
    base_mrr_end = sum(at_end[c][1] for c in base)
    base_mrr_retained = sum(min(at_end[c][1], at_start[c][1]) for c in base)
    customers_end = sum(1 for c in customers if at_end[c][0])
    churned_from_start = sum(1 for c in base if not at_end[c][0])
    churned_distinct = len({m.customer_id for m in movements if m.movement == "churn"})
    row = {
        "is_complete": complete,
        "period_end": end,
        "customers_start": len(base),
        "customers_end": customers_end,
        "new_customers": total("new"),
        "reactivated_customers": total("reactivation"),
        "churned_customers": churned,
        "churned_from_start": churned_from_start,
        "churned_distinct": churned_distinct,
        "logo_churn_rate": _ratio(churned_from_start, len(base)),
        "gross_logo_churn_rate": _ratio(churned_distinct, len(base)),
        "customer_days_churn_rate": None if exposed == 0 else churned / exposed * days_in_period,
        "net_customer_change_rate": _ratio(len(base) - customers_end, len(base)),
        "mrr_start": mrr_start,
        "new_mrr": total("new", lambda m: m.mrr_after),
        "reactivation_mrr": total("reactivation", lambda m: m.mrr_after),
        "expansion_mrr": total("expansion", lambda m: m.mrr_after - m.mrr_before),
        "contraction_mrr": total("contraction", lambda m: m.mrr_before - m.mrr_after),
        "churned_mrr": total("churn", lambda m: m.mrr_before),
        "mrr_end": sum(at_end[c][1] for c in customers if at_end[c][0]),
        "nrr": _ratio(base_mrr_end, mrr_start),
        "grr": _ratio(base_mrr_retained, mrr_start),
        "gross_mrr_churn_rate": None if mrr_start == 0 else 1 - base_mrr_retained / mrr_start,
        "net_mrr_churn_rate": None if mrr_start == 0 else 1 - base_mrr_end / mrr_start,
        "customer_days_exposed": exposed,
        "days_in_period": days_in_period,
    }
    churns = [m for m in movements if m.movement == "churn"]
    for category in sorted({m.category for m in churns if m.category}):
        chosen = [m for m in churns if m.category == category]
        churned_mrr = sum(m.mrr_before for m in chosen)
        reference.reasons[(grain, start, category)] = {
            "period_end": end,
            "churned_customers": len(chosen),
            "share_of_churned_customers": len(chosen) / churned,
            "churned_mrr": churned_mrr,
            "share_of_churned_mrr": _ratio(churned_mrr, row["churned_mrr"]),
            "voluntary_customers": sum(1 for m in chosen if m.churn_type == "voluntary"),
            "involuntary_customers": sum(1 for m in chosen if m.churn_type == "involuntary"),
        }
    return row
