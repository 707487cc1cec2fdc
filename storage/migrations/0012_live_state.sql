-- Maintained state for the API's map query and its live stream: nothing here is read by
-- scanning readings per request.

-- The newest reading of every sensor, upserted by the ingestor in its batch transaction
-- (ingest.storage.latest) and by the history seeder.
CREATE TABLE sensor_latest (
    sensor_id integer PRIMARY KEY,
    time      timestamptz NOT NULL,
    value     double precision NOT NULL,
    qc        smallint NOT NULL
);
INSERT INTO sensor_latest (sensor_id, time, value, qc)
SELECT DISTINCT ON (sensor_id) sensor_id, time, value, qc FROM readings ORDER BY sensor_id, time DESC;

-- Flagged readings are rare: a small partial index lets the downsampled read find each bucket's
-- worst QC flag without reading every row (the rollups leave FAIL readings out).
CREATE INDEX readings_flagged ON readings (sensor_id, time) WHERE qc > 1;

-- Each sensor's highest exceedance probability within 3 h of its newest forecast issue,
-- maintained when a forecast run is recorded (below).
CREATE TABLE forecast_peaks (
    sensor_id          integer PRIMARY KEY,
    issued_at          timestamptz NOT NULL,
    threshold          double precision,
    exceed_probability double precision
);

-- The live stream's events. Rows are written by triggers in the transaction that made the
-- change; event_id is assigned at commit under one lock (events_number), so ids become visible
-- in increasing order: a reader that has seen id N never later finds an id below N, which is
-- what lets a client resume with Last-Event-ID and miss nothing. Payloads of 'site' and
-- 'device' events are built when sent (the current state); 'alert' and 'forecast' events carry
-- the row as it was.
CREATE SEQUENCE events_event_id_seq;
CREATE TABLE events (
    pending_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   bigint UNIQUE,
    at         timestamptz NOT NULL DEFAULT now(),
    type       text NOT NULL CHECK (type IN ('alert', 'forecast', 'site', 'device')),
    subject    text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_by_time ON events (at);

CREATE FUNCTION events_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(111559182283891);  -- 'events'; held until this commit ends
    UPDATE events SET event_id = nextval('events_event_id_seq') WHERE pending_id = NEW.pending_id;
    PERFORM pg_notify('urbanpulse_events', '');
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER events_number AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION events_number();

CREATE FUNCTION alerts_publish() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed alerts;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    INSERT INTO events (type, subject, payload) VALUES ('alert', changed.alert_id::text,
        to_jsonb(changed) || jsonb_build_object(
            'site_name', (SELECT display_name FROM devices WHERE device_id = changed.device_id),
            'deleted', TG_OP = 'DELETE'));
    IF changed.device_id IS NOT NULL THEN
        INSERT INTO events (type, subject) VALUES ('site', changed.device_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER alerts_publish_new AFTER INSERT OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_publish();
-- The engine rewrites open alerts' values every cycle; only changes people care about are news.
CREATE TRIGGER alerts_publish_change AFTER UPDATE ON alerts FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.assignee IS DISTINCT FROM NEW.assignee
          OR OLD.silenced IS DISTINCT FROM NEW.silenced OR OLD.severity IS DISTINCT FROM NEW.severity
          OR OLD.ack_note IS DISTINCT FROM NEW.ack_note)
    EXECUTE FUNCTION alerts_publish();

CREATE FUNCTION forecast_runs_publish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO forecast_peaks (sensor_id, issued_at, threshold, exceed_probability)
    SELECT sensor_id, issued_at, max(threshold), max(exceed_probability) FROM forecasts
    WHERE issued_at = NEW.issued_at AND target_time <= NEW.issued_at + interval '3 hours'
    GROUP BY sensor_id, issued_at
    ON CONFLICT (sensor_id) DO UPDATE SET issued_at = EXCLUDED.issued_at, threshold = EXCLUDED.threshold,
        exceed_probability = EXCLUDED.exceed_probability
    WHERE forecast_peaks.issued_at <= EXCLUDED.issued_at;
    INSERT INTO events (type, subject, payload) VALUES ('forecast', NEW.issued_at::text,
        jsonb_build_object('issued_at', NEW.issued_at, 'sensors', NEW.sensors, 'shard', NEW.shard));
    RETURN NULL;
END $$;
CREATE TRIGGER forecast_runs_publish AFTER INSERT OR UPDATE ON forecast_runs
    FOR EACH ROW EXECUTE FUNCTION forecast_runs_publish();

CREATE FUNCTION device_status_publish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (type, subject) VALUES ('device', NEW.device_id), ('site', NEW.device_id);
    RETURN NULL;
END $$;
CREATE TRIGGER device_status_publish_new AFTER INSERT ON device_status
    FOR EACH ROW EXECUTE FUNCTION device_status_publish();
-- Heartbeats and readings touch device_status all the time; a state or config answer is news.
CREATE TRIGGER device_status_publish_change AFTER UPDATE ON device_status FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.config_version IS DISTINCT FROM NEW.config_version
          OR OLD.config_status IS DISTINCT FROM NEW.config_status)
    EXECUTE FUNCTION device_status_publish();

-- Each device's newest heartbeat, kept on its status row so the map and the device list read one
-- row per device instead of searching the heartbeat history.
ALTER TABLE device_status ADD COLUMN heartbeat_time timestamptz, ADD COLUMN backlog bigint,
    ADD COLUMN oldest_queued_age_s double precision, ADD COLUMN clock text;

CREATE FUNCTION device_heartbeats_latest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE device_status SET heartbeat_time = NEW.time, backlog = NEW.queue_depth,
        oldest_queued_age_s = NEW.oldest_queued_age_s, clock = NEW.clock
    WHERE device_id = NEW.device_id AND (heartbeat_time IS NULL OR heartbeat_time <= NEW.time);
    RETURN NULL;
END $$;
CREATE TRIGGER device_heartbeats_latest AFTER INSERT ON device_heartbeats
    FOR EACH ROW EXECUTE FUNCTION device_heartbeats_latest();

-- Times as the API writes them: UTC with a Z, microseconds only when there are some.
CREATE FUNCTION api_time(t timestamptz) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', CASE WHEN date_part('microseconds', t)::bigint % 1000000 = 0
        THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)
$$;
