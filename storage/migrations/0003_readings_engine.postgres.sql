-- Plain PostgreSQL: a BRIN index serves time-range scans at a tiny size, since rows arrive
-- roughly in time order; retention is a job run by the ingestor (ingest.storage.retention).
CREATE INDEX readings_time_brin ON readings USING brin (time) WITH (pages_per_range = 32);
