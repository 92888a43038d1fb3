from atlassian_helpers import actor_label, base_context, container_label, first_context, item_name


def rule(event):
    return event.deep_get("attributes", "action") == "group_granted_admin_access"


def _group(event):
    return item_name(first_context(event, "groups")) or "a group"


def title(event):
    where = container_label(event)
    suffix = " on %s" % where if where else ""
    return "Group %s was granted admin access%s by %s" % (_group(event), suffix, actor_label(event))


def dedup(event):
    return _group(event)


def alert_context(event):
    return base_context(event, target=_group(event))
