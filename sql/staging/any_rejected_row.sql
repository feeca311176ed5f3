-- Whether any staged row of the chunk broke a rule: every row's result is one of
-- validated_representatives' (view_validated_rows.sql), the history rule's included
-- (quarantine_changed_customers.sql). Usually none did, and insert_rejected_rows.sql, which
-- joins every row with its result to find them, is not run.
select exists (select 1 from validated_representatives where rule is not null) as any_rejected
