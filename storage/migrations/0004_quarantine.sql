-- Messages and records that could not be stored, with the reason: never dropped silently.
CREATE TABLE quarantine (
    quarantine_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL,
    topic         text NOT NULL,
    device_id     text,
    reason        text NOT NULL,
    detail        text NOT NULL,
    payload       bytea NOT NULL,        -- raw message or the offending record, truncated
    payload_bytes integer NOT NULL,      -- size before truncation
    record_scope  boolean NOT NULL       -- true: one record of a message; false: the whole message
);
CREATE INDEX quarantine_received_at ON quarantine (received_at);
CREATE INDEX quarantine_reason ON quarantine (reason, received_at);
