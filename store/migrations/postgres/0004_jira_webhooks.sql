-- Jira webhook deliveries already applied, by X-Atlassian-Webhook-Identifier,
-- so that a delivery Jira retries (or an attacker replays with a valid
-- signature) changes nothing the second time. Rows expire after a retention
-- window longer than Jira's retry schedule.
CREATE TABLE jira_webhooks (
    destination TEXT    NOT NULL,
    identifier  TEXT    NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (destination, identifier)
);
CREATE INDEX jira_webhooks_received ON jira_webhooks (received_at);

-- Inbound webhooks find the alert by its issue: key, or id when the payload
-- carries only the id (comment events on Server name the issue in a URL).
CREATE INDEX issues_destination_key ON issues (destination, key);
CREATE INDEX issues_destination_external_id ON issues (destination, external_id);
