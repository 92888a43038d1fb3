-- Sync between alerts and Jira issues.

-- Which Jira comment each mirrored alert comment is, per destination, and
-- which side wrote it first: "alertbridge" when we posted it (so the webhook
-- Jira sends back for it is ignored), "jira" when it came from Jira (so an
-- edit there edits the same alert comment, and it is never posted back).
CREATE TABLE comment_links (
    alert_id        TEXT    NOT NULL,
    comment_id      BIGINT NOT NULL,
    destination     TEXT    NOT NULL,
    jira_comment_id TEXT    NOT NULL,
    origin          TEXT    NOT NULL,
    PRIMARY KEY (destination, jira_comment_id)
);
CREATE INDEX comment_links_comment ON comment_links (comment_id, destination);

-- E-mail → Jira user, per destination: assignee sync looks users up by
-- e-mail, and a search per change would be a request per change.
CREATE TABLE jira_users (
    destination TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    found_at    BIGINT NOT NULL,
    PRIMARY KEY (destination, email)
);
