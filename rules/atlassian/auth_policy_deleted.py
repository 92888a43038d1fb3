from atlassian_helpers import actor_label, attr, base_context, first_context, item_name

ACTIONS = [
    "auth_policy_deleted",
    "domain_auth_policy_deleted",
    "user_auth_policy_deleted",
    "saml_policy_deleted",
]


def rule(event):
    return event.deep_get("attributes", "action") in ACTIONS


def _policy(event):
    return item_name(first_context(event, "auth-policy")) or "an authentication policy"


def title(event):
    return "%s deleted Atlassian authentication policy %s" % (actor_label(event), _policy(event))


def dedup(event):
    return _policy(event)


def alert_context(event):
    ctx = base_context(event, target=_policy(event))
    ctx["domain"] = attr(first_context(event, "auth-policy"), "domain") or None
    return ctx
