from atlassian_helpers import actor_label, attr, base_context, context_items

# A verified domain is what makes its accounts managed by the organization;
# losing it releases them from the organization's policies.
ACTIONS = ["domain_removed", "domain_deleted", "domain_verification_removed"]


def rule(event):
    return event.deep_get("attributes", "action") in ACTIONS


def _domain(event):
    for item in context_items(event):
        d = attr(item, "domain")
        if d:
            return d
    return "a domain"


def title(event):
    return "%s removed verified domain %s from Atlassian" % (actor_label(event), _domain(event))


def dedup(event):
    return _domain(event)


def alert_context(event):
    return base_context(event, target=_domain(event))
