-- Plain PostgreSQL: the 5-minute and 1-hour rollups become materialised tables with a real-time
-- view on top, the way TimescaleDB's continuous aggregates work on that engine. The views of 0005
-- aggregated raw rows on every read, so a month of a one-minute sensor cost 43,200 rows per
-- request; now it is 720 hourly rows plus the raw rows of the last hour or two.
--
-- * `rollup_watermark.materialized_to`: buckets before it are in `rollup_5m` / `rollup_1h`; the
--   views aggregate raw readings from it on (real-time aggregation, always current).
-- * A sensor with invalidated ranges is read raw from the first invalidated hour on until the
--   refresh has rebuilt them: reads are exact at every moment, late data included (TimescaleDB's
--   continuous aggregates show such data only after their next refresh).
-- * The refresh job (storage.rollups, run by the ingestor) moves the watermark forward and
--   materialises what it passed, in bulk.
-- * A write below the watermark (a late backlog, a reading failed by QC, retention) is logged per
--   sensor as an invalidated time range by a statement trigger; the next refresh recomputes it.
--   A writer holds a share lock on the watermark row until it commits and the refresh takes it
--   exclusively before reading, so a write is either seen by the refresh or judged against the
--   new watermark: none falls between.
-- Same view names and columns as before and as the continuous aggregates, so readers never branch
-- on the engine.
DROP VIEW readings_5m;
DROP VIEW readings_1h;

CREATE TABLE rollup_5m (
    sensor_id integer          NOT NULL,
    bucket    timestamptz      NOT NULL,
    samples   bigint           NOT NULL,
    total     double precision NOT NULL,
    minimum   double precision NOT NULL,
    maximum   double precision NOT NULL,
    PRIMARY KEY (sensor_id, bucket)
);
CREATE TABLE rollup_1h (LIKE rollup_5m INCLUDING ALL);

CREATE TABLE rollup_watermark (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    materialized_to timestamptz NOT NULL
);
INSERT INTO rollup_watermark (materialized_to) VALUES ('-infinity');

CREATE TABLE rollup_invalidations (
    sensor_id integer     NOT NULL,
    first     timestamptz NOT NULL,
    last      timestamptz NOT NULL
);
CREATE INDEX rollup_invalidations_sensor ON rollup_invalidations (sensor_id);

-- The two real-time views differ only in their table and bucket width: one definition serves both.
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT * FROM (VALUES ('readings_5m', 'rollup_5m', '5 minutes'),
                                   ('readings_1h', 'rollup_1h', '1 hour')) AS t (view_name, table_name, width)
    LOOP
        EXECUTE format($view$
CREATE VIEW %I AS
WITH mark AS (SELECT materialized_to AS mark FROM rollup_watermark),
     spans AS (SELECT sensor_id, min(date_bin(interval '1 hour', first, timestamptz '2000-01-01 00:00:00+00')) AS lo
               FROM rollup_invalidations GROUP BY sensor_id)
SELECT r.sensor_id, r.bucket, r.samples, r.total / r.samples AS mean, r.minimum, r.maximum
FROM %I r CROSS JOIN mark LEFT JOIN spans s USING (sensor_id)
WHERE r.bucket < least(mark.mark, coalesce(s.lo, 'infinity'))
UNION ALL
SELECT x.sensor_id, date_bin(interval %L, x.time, timestamptz '2000-01-01 00:00:00+00'),
       count(*), avg(x.value), min(x.value), max(x.value)
FROM (SELECT sensor_id, time, value FROM readings, mark WHERE qc <> 4 AND time >= mark.mark
      UNION ALL
      SELECT x.sensor_id, x.time, x.value FROM spans s CROSS JOIN mark
      JOIN readings x ON x.sensor_id = s.sensor_id AND x.time >= s.lo AND x.time < mark.mark
      WHERE x.qc <> 4) AS x
GROUP BY 1, 2$view$, v.view_name, v.table_name, v.width);
    END LOOP;
END $$;

-- The triggers: one pass over the statement's rows, a log row only for sensors written below the
-- watermark (none in steady ingest).
CREATE FUNCTION rollup_log_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mark timestamptz;
BEGIN
    SELECT materialized_to INTO mark FROM rollup_watermark FOR SHARE;
    INSERT INTO rollup_invalidations
    SELECT sensor_id, min(time), max(time) FROM changed_rows WHERE time < mark GROUP BY sensor_id;
    RETURN NULL;
END $$;

CREATE FUNCTION rollup_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE rollup_5m, rollup_1h, rollup_invalidations;
    UPDATE rollup_watermark SET materialized_to = '-infinity';
    RETURN NULL;
END $$;

-- One function logs every kind of write: each trigger names its rows `changed_rows` (an update's new
-- rows share the old rows' keys, since readings are never re-keyed; a delete's are the old rows).
CREATE TRIGGER readings_rollup_insert AFTER INSERT ON readings
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_log_rows();
CREATE TRIGGER readings_rollup_update AFTER UPDATE ON readings
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_log_rows();
CREATE TRIGGER readings_rollup_delete AFTER DELETE ON readings
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_log_rows();
CREATE TRIGGER readings_rollup_truncate AFTER TRUNCATE ON readings
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_forget_all();
