"""Accessors shared by the Atlassian rules (GlobalID atlassian_helpers).

They read the raw event shape of the Atlassian Organizations REST API audit
log, as the atlassian_audit source delivers it:

  {"id": ..., "type": "events",
   "attributes": {"time", "action", "actor": {"id", "name", "email"},
                  "context": [{"id", "type", "attributes"}, ...],
                  "container": [...], "location": {"ip", "geo", ...}},
   "message": {"content", "format"}}

Every accessor tolerates missing pieces: the API omits location for
system-initiated events and context for many actions, and a rule should
never fail because an event is thinner than usual.
"""

from collections.abc import Mapping

# Atlassian's own automation acts under these ids (org creation, domain
# bootstrap). Their changes are expected; rules rate them lower.
SYSTEM_ACTOR_IDS = {"atlassian-internal-system"}


def deep_get(obj, *keys, default=None):
    """obj[k1][k2]..., or default where a level is missing or not a mapping."""
    for k in keys:
        if not isinstance(obj, Mapping):
            return default
        obj = obj.get(k)
    return default if obj is None else obj


# rule() functions read the action with event.deep_get themselves rather
# than through action(): rule() runs for every event.
def action(event):
    return event.deep_get("attributes", "action", default="")


def actor(event):
    a = event.deep_get("attributes", "actor")
    return a if isinstance(a, Mapping) else {}


def actor_label(event):
    a = actor(event)
    return a.get("email") or a.get("name") or a.get("id") or "an unknown actor"


def actor_key(event):
    # The account id is stable where e-mail and name may change.
    a = actor(event)
    return a.get("id") or a.get("email") or "unknown"


def is_system_actor(event):
    return actor(event).get("id") in SYSTEM_ACTOR_IDS


def context_items(event, kind=None):
    items = event.deep_get("attributes", "context", default=[])
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, Mapping) and (kind is None or i.get("type") == kind)]


def first_context(event, kind):
    items = context_items(event, kind)
    return items[0] if items else {}


def attr(item, key, default=""):
    return deep_get(item, "attributes", key, default=default)


def user_label(item):
    return attr(item, "email") or attr(item, "name") or item.get("id") or ""


def item_name(item):
    return attr(item, "name") or attr(item, "groupName") or item.get("id") or ""


def container_label(event):
    containers = event.deep_get("attributes", "container", default=[])
    if not isinstance(containers, list):
        return ""
    for c in containers:
        if not isinstance(c, Mapping):
            continue
        label = attr(c, "siteName") or attr(c, "name") or attr(c, "cloudUrl")
        if label:
            return label
    return ""


def source_ip(event):
    return event.deep_get("attributes", "location", "ip", default="")


def base_context(event, target=None):
    """The alert context every Atlassian rule starts from: who, from where,
    on what, and the event to look up in the admin audit log."""
    a = actor(event)
    loc = event.deep_get("attributes", "location", default={})
    if not isinstance(loc, Mapping):
        loc = {}
    ctx = {
        "eventId": event.get("id"),
        "time": event.deep_get("attributes", "time"),
        "action": action(event),
        "actor": {"id": a.get("id"), "name": a.get("name"), "email": a.get("email")},
        "ip": source_ip(event) or None,
        "location": {k: loc.get(k) for k in ["countryName", "regionName", "city", "geo"] if loc.get(k)},
        "container": container_label(event) or None,
        "message": event.deep_get("message", "content"),
    }
    if target is not None:
        ctx["target"] = target
    return ctx
