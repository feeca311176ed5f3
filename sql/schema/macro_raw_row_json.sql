-- A snapshot row as exported, as JSON text: what raw.rejected_rows keeps of a quarantined row.
create or replace macro raw.raw_row_json(
    subscription_id, customer_id, status, mrr, currency, plan, started_at,
    canceled_at, ended_at, cancel_reason, snapshot_date
) as to_json({
    'subscription_id': subscription_id, 'customer_id': customer_id, 'status': status,
    'mrr': mrr, 'currency': currency, 'plan': plan, 'started_at': started_at,
    'canceled_at': canceled_at, 'ended_at': ended_at, 'cancel_reason': cancel_reason,
    'snapshot_date': snapshot_date
})::varchar
