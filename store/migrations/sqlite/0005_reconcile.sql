-- Reconciliation: each alert and Jira destination converges on the state
-- derived from the alert, and every effect on Jira is looked up before it
-- is repeated when an earlier attempt's outcome is unknown.

-- When the attempt that may be sending right now began: written, with the
-- attempt count, before a delivery's request goes out, and cleared when
-- its outcome is recorded. Non-zero on a fresh run means an earlier run
-- died mid-send and may have reached the destination.
ALTER TABLE deliveries ADD COLUMN sending_since BIGINT NOT NULL DEFAULT 0;

-- One row per alert and Jira destination that sync follows. Every change
-- bumps wanted in its own transaction; a reconcile that finished the state
-- of generation N sets done = N, and runs again while wanted > done.
-- status_for is the alert status the issue's Jira status stands for (set
-- when alertbridge moved it, or when a Jira webhook moved the alert), so a
-- status a person chose that maps to the alert's status is left alone;
-- assignee is the alert assignee last confirmed on the issue; closed_at is
-- when the issue was last seen to close, for jira.reopen_window.
CREATE TABLE issue_sync (
    alert_id    TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    wanted      BIGINT  NOT NULL DEFAULT 0,
    done        BIGINT  NOT NULL DEFAULT 0,
    status_for  TEXT    NOT NULL DEFAULT '',
    assignee    TEXT    NOT NULL DEFAULT '',
    closed_at   BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, destination)
);

-- Comments alertbridge writes on an issue: an alert comment (comment_id)
-- or a status note (note, comment_id 0). sent_at is written before each
-- post and ended_at when it returned; a row with sent_at and no
-- jira_comment_id had an unknown outcome, so the next attempt looks for its
-- marker property first (once the post cannot still be in flight: it
-- ended, or its timeout has passed). synced_at is the
-- alert comment's updated_at last written to Jira, so an edit is sent once.
CREATE TABLE outbound_comments (
    id              INTEGER PRIMARY KEY,
    alert_id        TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    comment_id      BIGINT  NOT NULL DEFAULT 0,
    note            TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT  NOT NULL DEFAULT 0,
    ended_at        BIGINT  NOT NULL DEFAULT 0,
    jira_comment_id TEXT    NOT NULL DEFAULT '',
    synced_at       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX outbound_comments_alert ON outbound_comments (alert_id, destination, id);
