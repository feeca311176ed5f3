-- Lake mode's window_subscription_states: a temp table, so that the window's Parquet files
-- are read (and joined with the customer of record) once, not once per reader. At 183 days
-- of the benchmark's customers, a derivation took 17.2 s through the view and 10.6 s with
-- this table (warehouse mode's view is the faster there: core/window_subscription_states).
create or replace temp table window_subscription_states as
select * from window_subscription_state_rows
