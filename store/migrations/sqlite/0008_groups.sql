-- Issues per group (jira.issue_per: group): an Alertmanager or Grafana
-- group is one alert standing for the group, whose members are the group's
-- alerts routed to such a destination. An alert may be in several groups
-- (Alertmanager routes with continue: true).
CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    PRIMARY KEY (group_id, alert_id)
);
