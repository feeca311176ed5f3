-- On an incremental build: delete the rows of core.customer_months that can depend on a day
-- from $rebuild_from on (the same months marts/customer_months_recomputed computes again).
delete from core.customer_months
where month_start + interval 3 month - interval 1 day >= $rebuild_from
