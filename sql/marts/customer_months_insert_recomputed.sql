-- On an incremental build: the recomputed rows in place of the deleted ones.
insert into core.customer_months
select * from customer_months_rows
