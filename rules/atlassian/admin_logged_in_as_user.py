from atlassian_helpers import actor_key, actor_label, base_context, first_context, user_label


def rule(event):
    return event.deep_get("attributes", "action") == "user_logged_in_as_user"


def _target(event):
    return user_label(first_context(event, "users")) or "another user"


def title(event):
    return "Atlassian admin %s logged in as %s" % (actor_label(event), _target(event))


def dedup(event):
    # One alert per admin and impersonated account: each pair is its own
    # question for the admin to answer.
    return "%s->%s" % (actor_key(event), _target(event))


def alert_context(event):
    return base_context(event, target=_target(event))
