-- Forecasts are series too (written by `urbanpulse forecast run`, read by alerts and the API).
-- One row per sensor, issue time and target time; target_time is the start of the bucket the
-- value forecasts (the convention of readings_5m). A re-run of the same issue replaces its rows.
CREATE TABLE forecasts (
    sensor_id          integer          NOT NULL,
    issued_at          timestamptz      NOT NULL,  -- data up to here were used
    target_time        timestamptz      NOT NULL,
    model              text             NOT NULL,
    mean               double precision,
    lower_80           double precision,
    upper_80           double precision,
    lower_95           double precision,
    upper_95           double precision,
    threshold          double precision,           -- the sensor's alarm level, when it has one
    exceed_probability double precision,           -- P(value > threshold at or before target_time)
    fallback           boolean          NOT NULL DEFAULT false,  -- the model could not forecast it its own way
    PRIMARY KEY (sensor_id, issued_at, target_time)
);
CREATE INDEX forecasts_by_issue ON forecasts (issued_at);

-- One row per forecast cycle (and shard, when several copies split the sensors).
CREATE TABLE forecast_runs (
    issued_at   timestamptz      NOT NULL,
    shard       text             NOT NULL,
    finished_at timestamptz      NOT NULL DEFAULT now(),
    sensors     integer          NOT NULL,
    fallbacks   integer          NOT NULL,
    seconds     double precision NOT NULL,
    PRIMARY KEY (issued_at, shard)
);

-- The newest forecast of every sensor.
CREATE VIEW latest_forecasts AS
SELECT f.* FROM forecasts f
JOIN (SELECT sensor_id, max(issued_at) AS issued_at FROM forecasts GROUP BY sensor_id) newest
  USING (sensor_id, issued_at);
