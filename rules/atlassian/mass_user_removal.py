from atlassian_helpers import actor_key, actor_label, base_context, first_context, user_label

# Ways an account loses access. One is routine offboarding; many from one
# actor in a short time (the Threshold) is sabotage or a compromised admin.
ACTIONS = [
    "user_removed_from_site",
    "user_removed_from_org",
    "user_disabled_site_access",
    "user_disabled_org_access",
    "managed_account_deactivated",
    "managed_account_deleted",
    "managed_account_deletion_scheduled",
]


def rule(event):
    return event.deep_get("attributes", "action") in ACTIONS


def title(event):
    return "%s is removing Atlassian users in bulk" % actor_label(event)


def dedup(event):
    return actor_key(event)


def alert_context(event):
    return base_context(event, target=user_label(first_context(event, "users")) or None)
