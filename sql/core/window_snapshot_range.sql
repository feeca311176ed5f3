-- The first and last snapshot dates the window needs, as a session variable the window's
-- views and statements read with getvariable(): DuckDB folds it into a constant, so a scan of
-- the lake's Parquet files (lake mode) opens only the window's date folders. A filter by
-- `in (select … from window_snapshot_dates)` alone opened every date of the history.
set variable window_snapshot_range = (
    select {'first': min(snapshot_date), 'last': max(snapshot_date)}
    from window_snapshot_dates
)
