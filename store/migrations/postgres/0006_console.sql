-- The console: sign-in sessions, failed sign-ins, and the indexes its
-- alert list filters by.

-- One row per signed-in browser. id_hash is the SHA-256 of the cookie's
-- value, so a read of this table does not yield sessions to replay.
CREATE TABLE console_sessions (
    id_hash    TEXT    PRIMARY KEY,
    username   TEXT    NOT NULL,
    method     TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Failed sign-ins in a row per key ("user:NAME", "addr:IP"), shared by
-- every replica, for the throttle.
CREATE TABLE login_failures (
    key       TEXT    PRIMARY KEY,
    failures  BIGINT NOT NULL,
    last_at   BIGINT NOT NULL
);

CREATE INDEX alerts_rule_seq ON alerts (rule_id, seq);
-- The list's counts per status, with or without a severity, read only
-- this index.
CREATE INDEX alerts_status_severity_source ON alerts (status, severity, source);
-- The list's destination filter: does the alert have a delivery there.
CREATE INDEX deliveries_alert_destination ON deliveries (alert_id, destination);
