from atlassian_helpers import actor_label, base_context

# One failed login is a typo; the Threshold turns a run of them against one
# account into an alert.
def rule(event):
    return event.deep_get("attributes", "action") == "user_login_failed"


def title(event):
    return "Repeated failed Atlassian logins for %s" % actor_label(event)


def dedup(event):
    return actor_label(event)


def alert_context(event):
    return base_context(event, target=actor_label(event))
