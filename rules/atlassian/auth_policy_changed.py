from atlassian_helpers import actor_label, attr, base_context, context_items, first_context, is_system_actor, item_name

# Changes to how people sign in: authentication policies, and the password,
# SAML and session settings they hold.
ACTIONS = [
    "auth_policy_updated",
    "auth_policy_type_updated",
    "default_auth_policy_updated",
    "domain_auth_policy_changed",
    "user_auth_policy_changed",
    "password_policy_changed",
    "saml_policy_changed",
    "set_session_policy",
]


def rule(event):
    return event.deep_get("attributes", "action") in ACTIONS


def _policy(event):
    return item_name(first_context(event, "auth-policy")) or "an authentication policy"


def _weak_settings(event):
    """Settings in the event that leave sign-in weaker than it should be."""
    weak = []
    for item in context_items(event, "auth-policy"):
        if attr(item, "twoSvDetails").lower() in ["optional", "disabled", "off"]:
            weak.append("two-step verification " + attr(item, "twoSvDetails").lower())
        if attr(item, "passwordStrength").lower() == "weak":
            weak.append("weak passwords allowed")
    return weak


def title(event):
    weak = _weak_settings(event)
    what = " (%s)" % ", ".join(weak) if weak else ""
    return "%s changed Atlassian authentication policy %s%s" % (actor_label(event), _policy(event), what)


def severity(event):
    if _weak_settings(event):
        return "HIGH"
    if is_system_actor(event):
        return "LOW"
    return "DEFAULT"


def dedup(event):
    return _policy(event)


def alert_context(event):
    ctx = base_context(event, target=_policy(event))
    ctx["domain"] = attr(first_context(event, "auth-policy"), "domain") or None
    ctx["weakSettings"] = _weak_settings(event)
    return ctx
