-- The history rule, step 2: quarantines, in `validated_rows`, every otherwise clean row whose
-- subscription names another customer_id than its customer of record
-- (changed_customer_of_record.sql, which explains the rule and how it is looked up). Runs only
-- when that table has rows, since an update scans every row of the chunk.
update validated_rows
set rule = 'subscription_changed_customer', rule_column = 'customer_id'
from changed_customer_of_record as customer_of_record
where validated_rows.rule is null
    and validated_rows.subscription_id_clean = customer_of_record.subscription_id
    and validated_rows.customer_id_clean <> customer_of_record.customer_id
