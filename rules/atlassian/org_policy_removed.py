from atlassian_helpers import action, actor_label, attr, base_context, first_context, item_name

# Organization policies (data residency, data security, mobile, external
# user...) protect data; removing one lifts that protection.
ACTIONS = ["policy_deleted", "policy_disabled"]


def rule(event):
    return event.deep_get("attributes", "action") in ACTIONS


def _policy(event):
    return first_context(event, "org-policy")


def _label(event):
    p = _policy(event)
    kind = attr(p, "type")
    name = item_name(p) or "an organization policy"
    return "%s (%s)" % (name, kind) if kind else name


def title(event):
    verb = "deleted" if action(event) == "policy_deleted" else "disabled"
    return "%s %s Atlassian policy %s" % (actor_label(event), verb, _label(event))


def dedup(event):
    return _policy(event).get("id") or _label(event)


def alert_context(event):
    ctx = base_context(event, target=_label(event))
    ctx["policyType"] = attr(_policy(event), "type") or None
    ctx["policyStatus"] = attr(_policy(event), "status") or None
    return ctx
