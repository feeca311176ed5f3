-- The history rule, step 2: quarantines, in `validated_representatives` (and so every row of
-- their texts), every otherwise clean row whose subscription names another customer_id than
-- its customer of record (changed_customer_of_record.sql, which explains the rule and how it
-- is looked up). Runs only when that table has rows.
update validated_representatives
set rule = 'subscription_changed_customer', rule_column = 'customer_id'
from changed_customer_of_record as customer_of_record
where validated_representatives.rule is null
    and validated_representatives.subscription_id_clean = customer_of_record.subscription_id
    and validated_representatives.customer_id_clean <> customer_of_record.customer_id
