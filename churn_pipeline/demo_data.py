"""Deterministic, realistic demo snapshots (the billing export of an imaginary SaaS).

Each subscription's life is drawn once as a list of segments of constant state (trial,
active, past_due, paused, a scheduled cancellation, canceled); daily snapshot files are
then cut from the segments with numpy masks, one vectorised slice per day. The loop is per
subscription, not per subscription-day, so 100,000 customers over two years take seconds
for the simulation and the rest is writing files.

What the data holds (and tests assert): daily signups with trials that convert or lapse;
monthly and annual plans (annual normalised to MRR); customers with several subscriptions;
upgrades and downgrades; pauses and resumes; past_due spells that recover or end in
cancellation (some into `unpaid`); voluntary cancellations with Stripe feedback codes and
free text in English, French, German and Polish, or no reason; reactivations; scheduled
cancellations (canceled_at set while still active); more churn in January and July; a few
missing snapshot days; canceled rows that stay in the export for 30 days, then drop out.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

DEFAULT_START = date(2024, 1, 1)
DEFAULT_DAYS = 456  # through 2025-03-31: five complete quarters
DEFAULT_CUSTOMERS = 2000
DEFAULT_SEED = 42
CANCELED_ROWS_KEPT_DAYS = 30

# (name, monthly price, annual price per year); annual MRR = annual price / 12
PLANS = (("starter", 29.0, 290.0), ("pro", 99.0, 990.0), ("business", 299.0, 2990.0))
ADDON_PLAN = len(PLANS)
ADDON_PRICES = (9.0, 19.0, 49.0)
STATUSES = ("trialing", "active", "past_due", "paused", "canceled", "unpaid", "incomplete_expired")
T, A, PD, PA, C, UNPAID, EXPIRED = range(7)
SEASONAL_CHURN = {
    1: 1.8,
    2: 1.1,
    3: 1.0,
    4: 0.9,
    5: 0.9,
    6: 1.0,
    7: 1.6,
    8: 1.1,
    9: 0.9,
    10: 0.9,
    11: 0.9,
    12: 1.2,
}

REASON_TEXTS = (
    # Stripe cancellation_details.feedback codes
    "too_expensive", "unused", "missing_features", "low_quality", "too_complex",
    "switched_service", "customer_service", "other",
    # English
    "Too expensive for our budget", "We are not using it anymore", "Missing features we need",
    "Switched to a competitor", "Support was too slow to answer", "Found a cheaper alternative",
    "Company closed down", "Budget cuts this quarter",
    # French
    "Trop cher", "Pas utilisé ce trimestre", "Passé à la concurrence", "Service client décevant",
    "Fonctionnalités manquantes", "Nous n'en avons plus besoin",
    # German
    "Zu teuer", "Brauche es nicht mehr", "Zur Konkurrenz gewechselt", "Kundenservice war schlecht",
    "Fehlende Funktionen", "Qualität enttäuschend",
    # Polish
    "Za drogo", "Nie używamy", "Przeszliśmy do konkurencji", "Słaba obsługa klienta",
    "Brak funkcji, których potrzebujemy", "Budżet obcięty",
)  # fmt: skip
PAYMENT_REASONS = ("payment_failed", "card declined", "")


@dataclass
class Segments:
    """Column lists of subscription segments: state constant over [start, end) day indices."""

    subscription: list[int]
    customer: list[int]
    start: list[int]
    end: list[int]
    status: list[int]
    mrr_cents: list[int]
    plan: list[int]
    started_at: list[int]
    canceled_at: list[int]  # -1 = empty
    ended_at: list[int]
    reason: list[int]  # index into REASON_TEXTS + PAYMENT_REASONS, -1 = empty

    @classmethod
    def empty(cls) -> Segments:
        return cls(*([] for _ in range(11)))

    def add(self, *values: int) -> None:
        for column, value in zip(
            (
                self.subscription,
                self.customer,
                self.start,
                self.end,
                self.status,
                self.mrr_cents,
                self.plan,
                self.started_at,
                self.canceled_at,
                self.ended_at,
                self.reason,
            ),
            values,
            strict=True,
        ):
            column.append(value)


@dataclass(frozen=True)
class DemoSpec:
    customers: int = DEFAULT_CUSTOMERS
    days: int = DEFAULT_DAYS
    start: date = DEFAULT_START
    seed: int = DEFAULT_SEED


class _Simulation:
    def __init__(self, spec: DemoSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.segments = Segments.empty()
        self.next_subscription = 0
        self.month_of_day = [(spec.start + timedelta(days=d)).month for d in range(spec.days + 400)]

    def churn_hazard(self, day: int, tenure_days: int) -> float:
        early_life = 2.0 if tenure_days < 90 else 1.0
        return 0.0008 * SEASONAL_CHURN[self.month_of_day[max(day, 0)]] * early_life

    def run(self) -> Segments:
        horizon = self.spec.days
        for customer in range(self.spec.customers):
            opening = self.rng.random() < 0.35
            first_day = -self.rng.randint(30, 700) if opening else self.rng.randint(0, horizon - 1)
            subscriptions = 1 + (self.rng.random() < 0.12) + (self.rng.random() < 0.03)
            day = first_day
            for index in range(subscriptions):
                addon = index > 0
                begin = first_day + (self.rng.randint(0, 120) if addon else 0)
                if begin >= horizon:
                    break
                end = self.subscription_life(
                    customer, begin, trial=not opening and not addon, addon=addon
                )
                day = max(day, end)
            # reactivation: a churned customer returns with a new subscription
            if day < horizon - 30 and self.rng.random() < 0.15:
                back = day + self.rng.randint(30, 180)
                if back < horizon:
                    self.subscription_life(customer, back, trial=False, addon=False)
        return self.segments

    def subscription_life(self, customer: int, begin: int, trial: bool, addon: bool) -> int:
        """Draws one subscription's segments from `begin`; returns the day service ended."""
        rng, horizon = self.rng, self.spec.days
        subscription = self.next_subscription
        self.next_subscription += 1
        plan = ADDON_PLAN if addon else rng.choices(range(len(PLANS)), weights=(6, 3, 1))[0]
        annual = rng.random() < 0.2
        mrr = self.price(plan, annual, addon)
        emit = lambda s, e, status, cents, canceled=-1, ended=-1, reason=-1: self.segments.add(  # noqa: E731
            subscription, customer, s, e, status, cents, plan, begin, canceled, ended, reason
        )
        day = begin
        if trial:
            trial_end = day + 14
            if rng.random() < 0.4:  # lapses
                emit(day, trial_end, T, mrr)
                emit(
                    trial_end,
                    trial_end + CANCELED_ROWS_KEPT_DAYS,
                    EXPIRED if rng.random() < 0.5 else C,
                    mrr,
                    trial_end,
                    trial_end,
                )
                return trial_end
            emit(day, trial_end, T, mrr)
            day = trial_end
        while day < horizon:
            tenure = day - begin
            hazard = self.churn_hazard(day, tenure)
            rates = (
                hazard,
                0.0012,
                0.0015,
                0.0008,
                0.0006,
            )  # cancel, payment trouble, upgrade, downgrade, pause
            wait = int(rng.expovariate(sum(rates))) + 1
            if day + wait >= horizon:
                emit(day, horizon + 1, A, mrr)
                return horizon
            emit(day, day + wait, A, mrr)
            day += wait
            event = rng.choices(range(5), weights=rates)[0]
            if event == 0:  # voluntary cancellation, often scheduled for the end of the term
                reason = rng.randrange(len(REASON_TEXTS)) if rng.random() < 0.75 else -1
                if rng.random() < 0.5:
                    notice = rng.randint(3, 30)
                    emit(day, day + notice, A, mrr, canceled=day, reason=reason)
                    ended = day + notice
                    emit(
                        ended,
                        ended + CANCELED_ROWS_KEPT_DAYS,
                        C,
                        mrr,
                        canceled=day,
                        ended=ended,
                        reason=reason,
                    )
                else:
                    ended = day
                    emit(
                        ended,
                        ended + CANCELED_ROWS_KEPT_DAYS,
                        C,
                        mrr,
                        canceled=day,
                        ended=day,
                        reason=reason,
                    )
                return ended
            if event == 1:  # a failed payment: past_due, then recovery or cancellation
                spell = rng.randint(3, 21)
                emit(day, day + spell, PD, mrr)
                day += spell
                if rng.random() < 0.55:
                    continue
                status = UNPAID if rng.random() < 0.3 else C
                reason = len(REASON_TEXTS) + rng.randrange(len(PAYMENT_REASONS))
                emit(
                    day,
                    day + CANCELED_ROWS_KEPT_DAYS,
                    status,
                    mrr,
                    canceled=day,
                    ended=day,
                    reason=reason,
                )
                return day
            if event in (2, 3):  # upgrade or downgrade
                step = 1 if event == 2 else -1
                if not addon:
                    plan = min(max(plan + step, 0), len(PLANS) - 1)
                new_mrr = self.price(plan, annual, addon)
                if new_mrr == mrr:
                    new_mrr = round(mrr * (1.25 if step > 0 else 0.8))
                mrr = new_mrr
                continue
            pause = rng.randint(14, 60)  # a pause, resumed or ended
            emit(day, day + pause, PA, mrr)
            day += pause
            if rng.random() < 0.2:
                emit(
                    day,
                    day + CANCELED_ROWS_KEPT_DAYS,
                    C,
                    mrr,
                    canceled=day,
                    ended=day,
                    reason=rng.randrange(len(REASON_TEXTS)),
                )
                return day
        return horizon

    def price(self, plan: int, annual: bool, addon: bool) -> int:
        if addon:
            return round(self.rng.choice(ADDON_PRICES) * 100)
        _, monthly, yearly = PLANS[plan]
        return round((yearly / 12 if annual else monthly) * 100)


def simulate(spec: DemoSpec) -> Segments:
    return _Simulation(spec).run()


def missing_days(spec: DemoSpec) -> set[int]:
    """A few days without an export (never the first two or the last)."""
    rng = random.Random(spec.seed + 1)
    candidates = range(2, max(spec.days - 1, 2))
    count = min(len(candidates), max(1, spec.days // 120)) if spec.days > 10 else 0
    return set(rng.sample(list(candidates), count))


def write_demo_snapshots(
    out_dir: Path,
    spec: DemoSpec,
    file_format: str = "csv",
    on_day: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write one snapshot file per day (except the gap days); returns the paths written."""
    if file_format not in ("csv", "parquet", "hive"):
        raise ValueError(f"format must be csv, parquet or hive, not {file_format!r}")
    segments = simulate(spec)
    columns = {
        name: np.asarray(getattr(segments, name), dtype=np.int64)
        for name in Segments.__dataclass_fields__
    }
    order = np.argsort(columns["subscription"], kind="stable")
    columns = {name: values[order] for name, values in columns.items()}
    reasons = np.array((*REASON_TEXTS, *PAYMENT_REASONS, ""), dtype=object)  # index -1 → ""
    statuses = np.array(STATUSES, dtype=object)
    plan_names = np.array([*(p[0] for p in PLANS), "addon"], dtype=object)
    day_strings = np.array(
        [(spec.start + timedelta(days=int(d))).isoformat() for d in range(-800, spec.days + 400)],
        dtype=object,
    )

    def day_text(offsets: np.ndarray) -> np.ndarray:
        text = day_strings[np.clip(offsets, -800, spec.days + 399) + 800]
        return np.where(offsets < -800, "", text)

    ended = columns["ended_at"]
    canceled = columns["canceled_at"]
    # one row per segment, formatted once; each day's file is a filter of this table
    segment_table = pa.table(
        {
            "subscription_id": [f"sub_{i:07d}" for i in columns["subscription"]],
            "customer_id": [f"cus_{i:06d}" for i in columns["customer"]],
            "status": statuses[columns["status"]].tolist(),
            "mrr": [f"{c // 100}.{c % 100:02d}" for c in columns["mrr_cents"]],
            "currency": ["USD"] * len(ended),
            "plan": plan_names[columns["plan"]].tolist(),
            "started_at": day_text(columns["started_at"]).tolist(),
            "canceled_at": np.where(canceled >= 0, day_text(canceled), "").tolist(),
            "ended_at": np.where(ended >= 0, day_text(ended), "").tolist(),
            "cancel_reason": reasons[columns["reason"]].tolist(),
        }
    )
    if file_format != "csv":
        segment_table = _typed(segment_table)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = missing_days(spec)
    written = []
    for day in range(spec.days):
        if on_day is not None:
            on_day(day, spec.days)
        if day in skipped:
            continue
        rows = (columns["start"] <= day) & (columns["end"] > day)
        snapshot_day = (spec.start + timedelta(days=day)).isoformat()
        written.append(
            _write_table(segment_table.filter(pa.array(rows)), out_dir, snapshot_day, file_format)
        )
    return written


def _write_table(table: pa.Table, out_dir: Path, snapshot_day: str, file_format: str) -> Path:
    if file_format == "csv":
        path = out_dir / f"{snapshot_day}.csv"
        pa_csv.write_csv(table, path)
    elif file_format == "parquet":
        path = out_dir / f"{snapshot_day}.parquet"
        pq.write_table(table, path)
    else:
        folder = out_dir / f"snapshot_date={snapshot_day}"
        folder.mkdir(exist_ok=True)
        path = folder / "part-0.parquet"
        pq.write_table(table, path)
    return path


def _typed(table: pa.Table) -> pa.Table:
    """Parquet exports carry typed columns: MRR as a decimal, dates as dates."""
    mrr = pa.compute.cast(table.column("mrr"), pa.float64())
    table = table.set_column(table.schema.get_field_index("mrr"), "mrr", mrr)
    for name in ("started_at", "canceled_at", "ended_at"):
        text = table.column(name)
        dates = pa.compute.cast(
            pa.compute.if_else(pa.compute.equal(text, ""), None, text), pa.date32()
        )
        table = table.set_column(table.schema.get_field_index(name), name, dates)
    return table
