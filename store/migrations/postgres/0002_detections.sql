-- Detection state: one row per rule and dedup string holding its current
-- period (detect.Group as JSON, with the fields worth querying as columns).
CREATE TABLE detection_groups (
    rule_id      TEXT    NOT NULL,
    dedup        TEXT    NOT NULL,
    period_start BIGINT NOT NULL,
    period_end   BIGINT NOT NULL,
    match_count  BIGINT NOT NULL,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    raised       BIGINT NOT NULL DEFAULT 0,
    alert_id     TEXT    NOT NULL DEFAULT '',
    -- The match count the last issue comment summarised, and when it was
    -- written: at most one comment per dedup period.
    commented_count BIGINT NOT NULL DEFAULT 0,
    commented_at    BIGINT NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (rule_id, dedup)
);
CREATE INDEX detection_groups_period_end ON detection_groups (period_end);

-- Event ids a source has already fed to the rules, so that re-reading an
-- overlapping window after a restart or a late index does not count them twice.
CREATE TABLE source_events (
    source     TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX source_events_seen ON source_events (source, seen_at);
