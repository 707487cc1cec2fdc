-- The same rollups as views computed on read with date_bin; same names and columns as the
-- TimescaleDB continuous aggregates, so readers never branch on the engine.
CREATE VIEW readings_5m AS
SELECT sensor_id,
       date_bin(interval '5 minutes', time, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       count(*) AS samples,
       avg(value) AS mean,
       min(value) AS minimum,
       max(value) AS maximum
FROM readings
WHERE qc <> 4
GROUP BY 1, 2;

CREATE VIEW readings_1h AS
SELECT sensor_id,
       date_bin(interval '1 hour', time, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       count(*) AS samples,
       avg(value) AS mean,
       min(value) AS minimum,
       max(value) AS maximum
FROM readings
WHERE qc <> 4
GROUP BY 1, 2;
