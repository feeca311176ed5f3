-- On a full build: core.customer_months is every recomputed row
-- (marts/customer_months_recomputed documents the table).
create or replace table core.customer_months as
select * from customer_months_rows
