from atlassian_helpers import actor_label, base_context, container_label, first_context, item_name, user_label

# Groups that confer administration of the whole site or organization. Any
# other group with "admin" in its name (jira-administrators,
# confluence-admins, ...) administers one product.
SITE_ADMIN_GROUPS = ["site-admins", "org-admins", "administrators", "system-administrators"]


def _group(event):
    return item_name(first_context(event, "groups")).lower()


def rule(event):
    return event.deep_get("attributes", "action") == "user_added_to_group" and "admin" in _group(event)


def _user(event):
    return user_label(first_context(event, "users")) or "an account"


def title(event):
    return "%s added %s to admin group %s on %s" % (
        actor_label(event),
        _user(event),
        _group(event),
        container_label(event) or "Atlassian",
    )


def severity(event):
    if _group(event) in SITE_ADMIN_GROUPS:
        return "HIGH"
    return "DEFAULT"


def dedup(event):
    return "%s:%s" % (_group(event), _user(event))


def alert_context(event):
    ctx = base_context(event, target=_user(event))
    ctx["group"] = _group(event)
    return ctx
