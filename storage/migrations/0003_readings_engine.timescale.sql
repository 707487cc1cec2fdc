-- TimescaleDB: a hypertable of daily chunks, compressed per sensor after a week, dropped after the retention.
CREATE EXTENSION IF NOT EXISTS timescaledb;
SELECT create_hypertable('readings', by_range('time', interval '1 day'), migrate_data => true);
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'sensor_id',
    timescaledb.compress_orderby = 'time'
);
SELECT add_compression_policy('readings', compress_after => interval '7 days', if_not_exists => true);
SELECT add_retention_policy('readings', drop_after => interval '400 days', if_not_exists => true);
