-- One date's file of the lake layer subscription_snapshots: the clean rows of the date before
-- the history rule, with the texts that rule needs (snapshot_date lives in the folder name).
select
    rows.* exclude (snapshot_date),
    texts.customer_id_value,
    texts.raw_row
from raw.subscription_snapshots as rows
inner join lake_row_texts as texts using (snapshot_date, source_file, source_row)
where rows.snapshot_date = $day
order by rows.subscription_id, rows.source_row
