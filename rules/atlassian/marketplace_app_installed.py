from atlassian_helpers import actor_label, attr, base_context, container_label, first_context, item_name


def rule(event):
    return event.deep_get("attributes", "action") == "marketplace_app_installed"


def _app(event):
    return first_context(event, "apps")


def title(event):
    app = item_name(_app(event)) or "a Marketplace app"
    vendor = attr(_app(event), "vendor")
    by = " (%s)" % vendor if vendor else ""
    where = container_label(event)
    on = " on %s" % where if where else ""
    return "%s installed third-party app %s%s%s" % (actor_label(event), app, by, on)


def dedup(event):
    return _app(event).get("id") or item_name(_app(event))


def alert_context(event):
    ctx = base_context(event, target=item_name(_app(event)) or None)
    ctx["vendor"] = attr(_app(event), "vendor") or None
    return ctx
