-- Device health: the latest state per device (birth / Last Will) and the heartbeat history.
CREATE TABLE device_status (
    device_id         text PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
    state             text NOT NULL CHECK (state IN ('online', 'offline')),
    state_since       timestamptz NOT NULL,
    version           text,
    last_heartbeat_at timestamptz
);

CREATE TABLE device_heartbeats (
    device_id           text NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    time                timestamptz NOT NULL,      -- the device's clock
    received_at         timestamptz NOT NULL,      -- the ingestor's clock
    queue_depth         bigint NOT NULL,
    oldest_queued_age_s double precision,
    evicted_total       bigint NOT NULL,
    refused_total       bigint NOT NULL,
    held_total          bigint NOT NULL,
    disk_free_bytes     bigint,
    cpu_temperature_c   double precision,
    uptime_s            double precision NOT NULL,
    version             text NOT NULL,
    clock               text NOT NULL,
    PRIMARY KEY (device_id, time)
);
