-- Times are microseconds since the Unix epoch in both dialects, so the
-- store reads them the same way everywhere.
CREATE TABLE alerts (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   TEXT    NOT NULL UNIQUE,
    rule_id    TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    assignee   TEXT    NOT NULL DEFAULT '',
    source     TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    body       TEXT    NOT NULL
);
CREATE INDEX alerts_status_seq ON alerts (status, seq);
CREATE INDEX alerts_severity_seq ON alerts (severity, seq);

CREATE TABLE alert_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id TEXT    NOT NULL,
    at       BIGINT NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    detail   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

CREATE TABLE comments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     TEXT    NOT NULL,
    author       TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    origin       TEXT    NOT NULL,
    external_ref TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX comments_alert ON comments (alert_id, id);

CREATE TABLE deliveries (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX deliveries_alert ON deliveries (alert_id, id);
CREATE INDEX deliveries_state ON deliveries (state);

CREATE TABLE issues (
    alert_id    TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    external_id TEXT    NOT NULL DEFAULT '',
    url         TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (alert_id, destination)
);

CREATE TABLE destination_health (
    name            TEXT    PRIMARY KEY,
    last_success_at BIGINT NOT NULL DEFAULT 0,
    last_error_at   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE checkpoints (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);
