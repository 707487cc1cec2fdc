-- People of the operations centre, their sessions and machine tokens, login throttling, the audit
-- log of every state change made through the API, and the alert workflow (assignee, comments).

CREATE TABLE users (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash text NOT NULL,                 -- argon2id (PHC string)
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL
);

-- Browser sessions: the cookie holds a random secret; only its SHA-256 is stored, so a copy of
-- this table opens nothing. Every API copy reads the same rows: the service keeps no state.
CREATE TABLE sessions (
    session_hash bytea PRIMARY KEY,
    username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Bearer tokens for machine clients, hashed at rest (SHA-256 of a 256-bit secret), revocable.
CREATE TABLE api_tokens (
    token_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_by   text,
    last_used_at timestamptz
);

-- Failed logins by key ('user:<name>', 'addr:<client address>'): the rate limit is shared by
-- every API copy because it lives here, not in a process.
CREATE TABLE login_failures (
    key text NOT NULL,
    at  timestamptz NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (key, at);

-- Who changed what through the API (users, tokens, silences, device configuration). Alert
-- changes are in alert_events, with the person as actor.
CREATE TABLE audit_log (
    audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_by_target ON audit_log (target, at);

ALTER TABLE alerts ADD COLUMN assignee text;
CREATE INDEX alerts_open_by_device ON alerts (device_id) WHERE state IN ('pending', 'firing', 'acknowledged');

CREATE TABLE alert_comments (
    comment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   bigint NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    author     text NOT NULL,
    text       text NOT NULL
);
CREATE INDEX alert_comments_by_alert ON alert_comments (alert_id, at);

-- A silence expired early by a person keeps its window for the record; expired_at ends it.
ALTER TABLE silences ADD COLUMN expired_at timestamptz, ADD COLUMN expired_by text;

-- The remote configuration last pushed to each device, and by whom (the device's answer is in
-- device_status.config_*).
CREATE TABLE device_configs (
    device_id text PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
    version   bigint NOT NULL,
    config    jsonb NOT NULL,
    pushed_by text NOT NULL,
    pushed_at timestamptz NOT NULL
);
