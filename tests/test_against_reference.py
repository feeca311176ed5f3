"""The published numbers against an independent reference of METRICS.md, on random histories.

tests/reference/metrics.py computes the movements, `churn_by_period` and
`churn_reasons_by_period` in plain Python from the contract's text; tests/reference/histories.py
writes random small histories (its docstring says what they hold). Each case runs the real
pipeline over its whole history and compares every column the reference computes, on every
row of `reporting.customer_movements`, both tables, `reporting.kpis_by_period` and
`core.daily_customer_totals` (the last two after a second review's reference, session 12). The seeds were picked with the reference
from 200 of them to cover churns inside gaps, reactivations, quarantined rows, duplicated ids,
and each past-due setting: without grace days, with 3, and with 0 (the setting of the
voluntary/involuntary defect found this way in session 12).
"""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from tests.conftest import Project
from tests.reference.histories import random_history
from tests.reference.metrics import Reference, compute, daily_totals, kpis

CASES = [  # (seed, CHURN_PAST_DUE_GRACE_DAYS); picked with the reference for what they hold
    (10, None),  # a churn dated inside a gap, an involuntary churn, MRR changes
    (1001, None),  # five churns, four reactivations, duplicated ids
    (1021, None),  # 109 days, 44 quarantined rows, duplicated ids on 12 days
    (1033, None),  # three churns dated inside gaps
    (2004, 3),  # grace days change which churns happen and their type
    (2022, 3),  # the same over 69 days, a churn inside a gap
    (3005, 0),  # past due never pays: stops on the first past-due snapshot
    (3018, 0),  # ten churns, four of them involuntary
]


def _written(
    project: Project, history: dict[date, list[dict[str, str]]]
) -> dict[date, list[dict[str, str]]]:
    """Writes the history's files; returns them as read back, which is what the pipeline reads."""
    files = {}
    for day, rows in history.items():
        path = project.write_csv(day, rows)
        with path.open(newline="", encoding="utf-8") as handle:
            files[day] = list(csv.DictReader(handle))
    return files


def _same(expected: Any, published: Any) -> bool:
    if expected is None or published is None:
        return expected is None and published is None
    if isinstance(expected, float) or isinstance(published, float):
        return math.isclose(expected, published, rel_tol=1e-9, abs_tol=1e-12)
    return bool(expected == published)


def _differences(
    expected: dict[Any, dict[str, Any]], published: dict[Any, dict[str, Any]], table: str
) -> list[str]:
    differences = []
    for key in sorted(set(expected) | set(published), key=str):
        if key not in published:
            differences.append(f"{table} {key}: missing")
        elif key not in expected:
            differences.append(f"{table} {key}: not expected ({published[key]})")
        else:
            differences += [
                f"{table} {key} {column}: expected {value}, published {published[key][column]}"
                for column, value in expected[key].items()
                if not _same(value, published[key][column])
            ]
    return differences


@pytest.mark.parametrize(("seed", "grace_days"), CASES)
def test_published_numbers_equal_the_reference(
    project: Project, seed: int, grace_days: int | None
) -> None:
    # the reference does not model a refused file: every bad row is quarantined alone
    project.settings = replace(
        project.settings, past_due_grace_days=grace_days, quarantine_threshold=1.0
    )
    files = _written(project, random_history(seed))
    reference: Reference = compute(files, grace_days)
    project.run(min(files), max(files))

    periods = {
        (row["grain"], row["period_start"]): row
        for row in project.query_dicts("select * from reporting.churn_by_period")
    }
    reasons = {
        (row["grain"], row["period_start"], row["reason_category"]): row
        for row in project.query_dicts("select * from reporting.churn_reasons_by_period")
    }
    movements = {
        (row["customer_id"], row["observed_on"]): row
        for row in project.query_dicts("select * from reporting.customer_movements")
    }
    expected_movements = {
        (m.customer_id, m.observed_on): {
            "movement_date": m.movement_date,
            "movement": m.movement,
            "mrr_before": m.mrr_before,
            "mrr_after": m.mrr_after,
            "churn_type": m.churn_type,
            "reason_category": m.category,
            "reason_raw": m.reason_raw,
        }
        for m in reference.movements
    }
    differences = _differences(expected_movements, movements, "customer_movements")
    differences += _differences(reference.periods, periods, "churn_by_period")
    differences += _differences(
        kpis(reference),
        {
            (row["grain"], row["period_start"]): row
            for row in project.query_dicts("select * from reporting.kpis_by_period")
        },
        "kpis_by_period",
    )
    differences += _differences(
        daily_totals(reference),
        {
            (row["day"],): row
            for row in project.query_dicts("select * from core.daily_customer_totals")
        },
        "daily_customer_totals",
    )
    differences += _differences(reference.reasons, reasons, "churn_reasons_by_period")
    assert not differences, "\n".join(differences[:20])
    # the case compares something: periods with customers and at least one movement
    assert any(row["customers_start"] for row in reference.periods.values())
    assert reference.movements
