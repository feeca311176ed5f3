"""Measurement prototype for issue #9, not part of the pipeline: the movement log derived from
change rows instead of from every customer on every snapshot date.

What it measures: given a subscription's rows only where they change (a row on a loaded date
whose canonical values differ from its row on the previous loaded date, or a "gone" row when
it disappears) — what the change-row redesign would store — how long deriving the movement
log takes, and whether it equals the pipeline's. Each change row adds its difference in
paying subscriptions, held subscriptions and paying MRR to its customer's running totals (one
window per subscription, one per customer), so the work follows the changes, not the days.
The change rows are built here from `raw.subscription_snapshots`, untimed (the redesign's
ingestion would store them). It leaves out what the movement step also does: churn reasons
and dates (`window_churn_details.sql`), gap dating, grace days and quarantine carry-forward;
the bench history has no grace days and no quarantined row. docs/benchmarks.md, "Session 12",
gives the figures.

    .venv/bin/churn-pipeline bench ...          # once: leaves data/bench/runs/long/warehouse.duckdb
    .venv/bin/python docs/prototypes/movements_from_changes.py data/bench/runs/long/warehouse.duckdb

The SQL is inline on purpose: this is a throwaway measurement, kept so its figures can be
reproduced; the pipeline's SQL lives in sql/.
"""

from __future__ import annotations

import sys
import time

import duckdb


def main(warehouse: str) -> None:
    c = duckdb.connect(config={"threads": 2, "memory_limit": "3GB"})
    c.execute("attach $path as w (read_only)", {"path": warehouse})
    t = time.perf_counter()
    c.execute("""create table loaded_dates as
      select snapshot_date, lag(snapshot_date) over (order by snapshot_date) as previous_date,
             lead(snapshot_date) over (order by snapshot_date) as next_date
      from (select distinct snapshot_date from w.raw.subscription_snapshots)""")
    c.execute("""create table changes as
    with rows as (
      select snapshot_date, subscription_id, customer_id, status, mrr_cents,
             hash(customer_id, status, mrr_cents, stops_involuntarily, cancel_reason, canceled_at, ended_at, plan) as h
      from w.raw.subscription_snapshots),
    prev as (
      select r.subscription_id, r.h, d.next_date as snapshot_date
      from rows r join loaded_dates d using (snapshot_date) where d.next_date is not null)
    select coalesce(cur.snapshot_date, prev.snapshot_date) as snapshot_date,
           coalesce(cur.subscription_id, prev.subscription_id) as subscription_id,
           cur.customer_id, cur.status, cur.mrr_cents, cur.subscription_id is null as is_gone
    from rows cur full outer join prev on cur.subscription_id = prev.subscription_id and cur.snapshot_date = prev.snapshot_date
    where cur.h is distinct from prev.h
    """)
    # the gone rows need the customer of the subscription (from its previous change row)
    c.execute("""create or replace table changes as
    select snapshot_date, subscription_id,
           coalesce(customer_id, last_value(customer_id ignore nulls) over (partition by subscription_id order by snapshot_date rows between unbounded preceding and 1 preceding)) as customer_id,
           status, mrr_cents, is_gone
    from changes""")
    n = c.execute("select count(*), count(*) filter (where is_gone) from changes").fetchone()
    print("change rows built (untimed part)", round(time.perf_counter() - t, 1), "s", n)

    t = time.perf_counter()
    c.execute("""create table prototype_movements as
    with first_snapshot as (select min(snapshot_date) as day from loaded_dates),
    sub_contributions as (
      -- what each change row makes the subscription contribute to its customer
      select snapshot_date, subscription_id, customer_id,
        case when not is_gone and status in ('active','past_due') and mrr_cents > 0 then 1 else 0 end as paying,
        case when not is_gone and status = 'paused' then 1 else 0 end as held,
        case when not is_gone and status in ('active','past_due') and mrr_cents > 0 then mrr_cents else 0 end as paying_mrr
      from changes),
    sub_deltas as (
      select snapshot_date, customer_id,
        paying - coalesce(lag(paying) over w, 0) as d_paying,
        held - coalesce(lag(held) over w, 0) as d_held,
        paying_mrr - coalesce(lag(paying_mrr) over w, 0) as d_mrr
      from sub_contributions
      window w as (partition by subscription_id order by snapshot_date)),
    customer_day_deltas as (
      select customer_id, snapshot_date, sum(d_paying) as d_paying, sum(d_held) as d_held, sum(d_mrr) as d_mrr
      from sub_deltas group by all),
    customer_states as (
      select customer_id, snapshot_date,
        sum(d_paying) over w as paying_subs, sum(d_held) over w as held_subs, sum(d_mrr) over w as paying_mrr
      from customer_day_deltas
      window w as (partition by customer_id order by snapshot_date rows unbounded preceding)),
    with_activation as (
      select s.*, min(snapshot_date) filter (where paying_subs > 0 or (held_subs > 0 and snapshot_date = (select day from first_snapshot))) over (partition by customer_id) as first_activation
      from customer_states s),
    active_states as (
      select customer_id, snapshot_date,
        (paying_subs > 0 or (held_subs > 0 and (first_activation < snapshot_date or snapshot_date = (select day from first_snapshot)))) as is_active,
        case when paying_subs > 0 then paying_mrr else 0 end as mrr, first_activation
      from with_activation),
    compared as (
      select customer_id, snapshot_date as observed_on, is_active, mrr, first_activation,
        coalesce(lag(is_active) over w, false) as was_active, coalesce(lag(mrr) over w, 0) as mrr_before,
        lag(snapshot_date) over w as previous_change
      from active_states window w as (partition by customer_id order by snapshot_date))
    select customer_id, observed_on,
      case
        when observed_on = (select day from first_snapshot) and is_active then 'opening'
        when not was_active and is_active and first_activation < observed_on then 'reactivation'
        when not was_active and is_active then 'new'
        when was_active and not is_active then 'churn'
        when was_active and is_active and mrr > mrr_before then 'expansion'
        when was_active and is_active and mrr < mrr_before then 'contraction'
      end as movement,
      case when was_active then mrr_before else 0 end as mrr_before,
      case when is_active then mrr else 0 end as mrr_after
    from compared
    where (observed_on = (select day from first_snapshot) and is_active)
       or (was_active <> is_active) or (was_active and is_active and mrr <> mrr_before)
    """)
    print(
        "movements from change rows",
        round(time.perf_counter() - t, 2),
        "s",
        c.execute("select count(*) from prototype_movements").fetchone()[0],
    )
    diff = c.execute("""
      with ours as (select customer_id, observed_on, movement, coalesce(mrr_before, 0) as mrr_before, coalesce(mrr_after, 0) as mrr_after from w.core.customer_movements),
      proto as (select customer_id, observed_on, movement, mrr_before, mrr_after from prototype_movements)
      select (select count(*) from (select * from ours except all select * from proto)),
             (select count(*) from (select * from proto except all select * from ours)),
             (select count(*) from ours)""").fetchall()[0]
    print(
        "pipeline rows missing from prototype, prototype rows not in pipeline, pipeline rows:", diff
    )
    print(
        c.sql("""(select 'missing' as side, * from (select customer_id, observed_on, movement, coalesce(mrr_before, 0), coalesce(mrr_after, 0) from w.core.customer_movements except all select customer_id, observed_on, movement, mrr_before, mrr_after from prototype_movements) limit 5)
     union all (select 'extra', * from (select customer_id, observed_on, movement, mrr_before, mrr_after from prototype_movements except all select customer_id, observed_on, movement, coalesce(mrr_before, 0), coalesce(mrr_after, 0) from w.core.customer_movements) limit 5)""")
    )


if __name__ == "__main__":
    main(sys.argv[1])
