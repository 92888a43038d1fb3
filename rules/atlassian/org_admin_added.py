from atlassian_helpers import actor_label, base_context, first_context, is_system_actor, user_label


def rule(event):
    return event.deep_get("attributes", "action") == "added_org_admin"


def _target(event):
    return user_label(first_context(event, "users")) or "an account"


def title(event):
    return "%s was made an Atlassian organization admin by %s" % (_target(event), actor_label(event))


def severity(event):
    # Atlassian's system actor names the first admin when an organization is
    # created; that is bookkeeping, not a grant anyone chose.
    if is_system_actor(event):
        return "LOW"
    return "DEFAULT"


def dedup(event):
    return _target(event)


def alert_context(event):
    return base_context(event, target=_target(event))
