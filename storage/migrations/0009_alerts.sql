-- Alerts (written by `urbanpulse alerts run`, read and acknowledged by people through the CLI/API).

-- When each device's newest reading arrived, by the device's clock and by the ingestor's:
-- the alert engine's clock check compares the two against the rest of the fleet.
ALTER TABLE device_status ADD COLUMN last_reading_at timestamptz, ADD COLUMN last_received_at timestamptz;

-- The rules as last loaded from the versioned rules file, so the API can list them.
CREATE TABLE alert_rules (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    version    text NOT NULL,               -- the rules file's version
    definition jsonb NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per alert: opened when a rule's condition first holds for a subject (pending),
-- closed when resolved or expired. At most one open alert per fingerprint (rule x subject).
CREATE TABLE alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint     text NOT NULL,
    rule            text NOT NULL,
    kind            text NOT NULL,
    subject         text NOT NULL,              -- 'sensor:<id>' or 'device:<id>'
    sensor_id       integer,
    device_id       text,
    district        text,
    ward            text,
    severity        text NOT NULL CHECK (severity IN ('minor', 'moderate', 'severe', 'extreme')),
    state           text NOT NULL CHECK (state IN ('pending', 'firing', 'acknowledged', 'resolved', 'expired')),
    pending_since   timestamptz NOT NULL,
    fired_at        timestamptz,
    acked_at        timestamptz,
    acked_by        text,
    ack_note        text,
    closed_at       timestamptz,
    clear_since     timestamptz,               -- the condition has been clear since (hysteresis hold-down)
    unknown_since   timestamptz,               -- no data to evaluate since (expiry)
    last_change     timestamptz NOT NULL,
    flaps           integer NOT NULL DEFAULT 0,  -- reopened within the flap window
    value           double precision,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    notified_state  text,                      -- the last state people were told about
    notified_at     timestamptz,
    escalated_at    timestamptz,
    silenced        boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (fingerprint) WHERE state IN ('pending', 'firing', 'acknowledged');
CREATE INDEX alerts_recent ON alerts (fingerprint, closed_at DESC);

-- Every state change, who made it and why: the audit trail.
CREATE TABLE alert_events (
    alert_id   bigint NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    actor      text NOT NULL,                  -- 'engine' or a person
    note       text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX alert_events_by_alert ON alert_events (alert_id, at);

-- Silences: matchers on alert labels (rule, kind, district, ward, device_id, severity) and a window.
CREATE TABLE silences (
    silence_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers   jsonb NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by text NOT NULL,
    comment    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Notification groups (district x tier): when each was last sent, for group interval / repeat.
CREATE TABLE notification_groups (
    group_key  text PRIMARY KEY,
    last_sent  timestamptz NOT NULL
);

-- The outbox: a notification is written in the same transaction as the state change it tells
-- of, then delivered (at least once, retried with backoff) by the dispatcher.
CREATE TABLE notification_outbox (
    notification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel         text NOT NULL CHECK (channel IN ('apprise', 'mqtt')),
    target          text NOT NULL,             -- an apprise URL, or an MQTT topic
    group_key       text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    alert_ids       bigint[] NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- The public CAP 1.2 feed: one document per message (Alert, Update, Cancel).
CREATE TABLE cap_messages (
    identifier  text PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    sent        timestamptz NOT NULL,
    msg_type    text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    xml         text NOT NULL
);
CREATE INDEX cap_messages_by_alert ON cap_messages (alert_id, sent);
