-- Compact lookup: the first snapshot on which each customer was active (opening or new).
-- Lets a run over a few days tell `new` from `reactivation` without reading all history.
create table if not exists core.customer_first_activation (
    customer_id varchar not null primary key,
    first_activation_date date not null
)
