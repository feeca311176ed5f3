-- Whether every text of the chunk has one row on each date of its mask and no key is
-- duplicated (subscription_texts.sql, duplicated_subscription_keys.sql): the accounting can
-- then count texts, not rows (delivery_accounting_of_texts.sql). Not so when a key is listed
-- twice on a date, or rows without a subscription_id repeat a text on one date.
select
    not exists (select 1 from duplicated_subscription_keys)
    and not exists (select 1 from subscription_texts where text_rows <> bit_count(date_mask))
    as each_text_once_a_date
