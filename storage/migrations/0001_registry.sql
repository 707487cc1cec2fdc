-- Devices on street hardware and the sensors they carry.
CREATE TABLE devices (
    device_id    text PRIMARY KEY CHECK (device_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    display_name text,
    ward         text,
    district     text,
    latitude     double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision CHECK (longitude BETWEEN -180 AND 180),
    -- Mosquitto PBKDF2-SHA512 hash ($7$...) so the broker's password file can be rebuilt from here.
    credential_hash text,
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sensors (
    sensor_id  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id  text NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('water_level', 'rainfall', 'traffic_count', 'traffic_speed')),
    unit       text NOT NULL,
    -- 'unplaced': registered automatically from its first reading, location not yet surveyed.
    placement  text NOT NULL DEFAULT 'unplaced' CHECK (placement IN ('placed', 'unplaced')),
    latitude   double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude  double precision CHECK (longitude BETWEEN -180 AND 180),
    ward       text,
    district   text,
    metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, name)
);
