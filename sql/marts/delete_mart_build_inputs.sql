-- Forget what a table was last built from (before its rebuild, in the same transaction).
delete from core.mart_build_inputs
where table_name = $table_name
