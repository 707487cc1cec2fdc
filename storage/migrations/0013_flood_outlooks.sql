-- Street-flood outlooks (written by `urbanpulse forecast run` with each forecast issue, read by the
-- alert engine's flood_tier rules): for every street depth sensor, the tier it is under - a Flood
-- Watch (conditions favour flooding within hours) or a Flood Warning (the rain nowcast says the
-- street floods within the hour) - with the probabilities behind it and the expected crossing of
-- its alarm depth. The street's forecasts rows of the same issue carry exceed_probability from
-- the same outlook (P(depth > alarm depth at or before the target time)).
CREATE TABLE flood_outlooks (
    sensor_id           integer          NOT NULL,
    issued_at           timestamptz      NOT NULL,  -- the forecast issue it belongs to
    tier                text             CHECK (tier IN ('watch', 'warning')),  -- NULL: neither
    warning_probability double precision NOT NULL,  -- P(alarm depth within the warning window, an hour)
    watch_probability   double precision NOT NULL,  -- P(alarm depth within the watch window, six hours)
    expected_crossing   timestamptz,                -- mean first crossing of the members that cross
    threshold           double precision NOT NULL,  -- the alarm depth, m
    PRIMARY KEY (sensor_id, issued_at)
);
CREATE INDEX flood_outlooks_by_issue ON flood_outlooks (issued_at);
