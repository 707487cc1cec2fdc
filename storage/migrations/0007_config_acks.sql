-- The last remote-config answer of each device: applied, or rejected with the device's reason.
ALTER TABLE device_status
    ADD COLUMN config_version bigint,
    ADD COLUMN config_status  text CHECK (config_status IN ('applied', 'rejected')),
    ADD COLUMN config_reason  text,
    ADD COLUMN config_at      timestamptz;
