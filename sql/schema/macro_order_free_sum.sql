-- The sum of doubles in an order that does not matter: each term rounded to 1e-12 and added
-- exactly as a decimal. A plain sum() of doubles depends on the order DuckDB adds the rows in,
-- which depends on its threads, so the same table built twice differed in its last bits (the
-- forecasts' expected MRR and variances, session 18). decimal(38, 12) holds 26 digits before
-- the point: a variance term is at most 0.25 × MRR², 2.5e17 at a ceiling of 1e9 minor units.
create or replace macro core.order_free_sum(term) as
    cast(sum(cast(term as decimal(38, 12))) as double)
