-- Whether every subscription_id of the chunk was staged trimmed (no text `has_untrimmed_id`,
-- subscription_texts.sql): `row_texts` can then read the staged ids as they are
-- (view_row_texts.sql), else it trims them row by row (view_row_texts_trimmed.sql).
select not exists (select 1 from subscription_texts where has_untrimmed_id) as every_id_trimmed
