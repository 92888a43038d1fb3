-- One row per Jira site (scheme and host), shared by every replica: the
-- Retry-After window a 429 opened (blocked_until), so that a 429 one
-- replica received closes the site for all and a process that starts
-- inside a window knows of it; and the time the site's next request may
-- go (next_at), so that replicas share one request rate. Unix microseconds.
CREATE TABLE jira_sites (
    site          TEXT PRIMARY KEY,
    blocked_until BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL DEFAULT 0
);

-- A site's request slots (max_concurrency of them), each held by one
-- request at a time, across replicas; a slot whose holder died frees
-- itself when its lease (held_until, Unix microseconds) runs out.
CREATE TABLE jira_site_slots (
    site       TEXT NOT NULL,
    slot       INTEGER NOT NULL,
    held_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site, slot)
);
