from atlassian_helpers import action, actor_label, base_context, first_context, user_label

ACTIONS = ["twosv_unenforced", "twosv_disabled_for_user"]


def rule(event):
    return event.deep_get("attributes", "action") in ACTIONS


def _user(event):
    return user_label(first_context(event, "users"))


def title(event):
    if action(event) == "twosv_unenforced":
        return "%s stopped enforcing two-step verification in Atlassian" % actor_label(event)
    return "%s disabled two-step verification for %s" % (actor_label(event), _user(event) or "an account")


def severity(event):
    # Lifting enforcement exposes every account; one account is one account.
    if action(event) == "twosv_disabled_for_user":
        return "MEDIUM"
    return "DEFAULT"


def dedup(event):
    return "%s:%s" % (action(event), _user(event))


def alert_context(event):
    return base_context(event, target=_user(event) or None)
