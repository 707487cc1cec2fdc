-- One row per (sensor, time): the natural key makes redelivered messages harmless.
-- No foreign key to sensors: it would cost a lookup per COPYed row; the ingestor only
-- writes ids it has just read or created in sensors.
CREATE TABLE readings (
    sensor_id integer          NOT NULL,
    time      timestamptz      NOT NULL,
    value     double precision NOT NULL,
    qc        smallint         NOT NULL,  -- QARTOD flag: 1 pass, 3 suspect, 4 fail
    PRIMARY KEY (sensor_id, time)
);

-- How long raw readings are kept; read by the retention job (plain PostgreSQL) and
-- mirrored by the TimescaleDB retention policy.
CREATE TABLE storage_policy (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    raw_retention     interval NOT NULL,
    compress_after    interval NOT NULL
);
INSERT INTO storage_policy (raw_retention, compress_after) VALUES (interval '400 days', interval '7 days');
