-- 5-minute and 1-hour rollups as real-time continuous aggregates (materialised + fresh rows).
-- Late readings (an edge backlog drained after an outage) land below the materialisation
-- watermark, where only a refresh brings them in: the refresh windows therefore reach back
-- 31 days, past the ingestor's default maximum reading age (30 days). TimescaleDB refreshes
-- only invalidated buckets, so the wide window costs nothing when no late data arrived.
CREATE MATERIALIZED VIEW readings_5m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT sensor_id,
       time_bucket(interval '5 minutes', time) AS bucket,
       count(*) AS samples,
       avg(value) AS mean,
       min(value) AS minimum,
       max(value) AS maximum
FROM readings
WHERE qc <> 4
GROUP BY sensor_id, time_bucket(interval '5 minutes', time)
WITH NO DATA;

CREATE MATERIALIZED VIEW readings_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT sensor_id,
       time_bucket(interval '1 hour', time) AS bucket,
       count(*) AS samples,
       avg(value) AS mean,
       min(value) AS minimum,
       max(value) AS maximum
FROM readings
WHERE qc <> 4
GROUP BY sensor_id, time_bucket(interval '1 hour', time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_5m', start_offset => interval '31 days',
    end_offset => interval '5 minutes', schedule_interval => interval '5 minutes', if_not_exists => true);
SELECT add_continuous_aggregate_policy('readings_1h', start_offset => interval '31 days',
    end_offset => interval '1 hour', schedule_interval => interval '30 minutes', if_not_exists => true);
