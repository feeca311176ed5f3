-- Which definitions of the warehouse's schemas, tables, views and macros were last applied
-- (warehouse.ensure_schema): a fingerprint of sql/schema, the code that applies it and the
-- DuckDB version. A connection whose code has the same fingerprint skips applying them again
-- (each `create or replace` is a commit, and a checkpoint when the connection closes).
-- Deleting the row, or the table, makes the next connection apply them all.
create or replace table core.schema_fingerprint as
select cast($fingerprint as varchar) as fingerprint, current_timestamp as applied_at
