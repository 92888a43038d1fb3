from collections.abc import Mapping

from atlassian_helpers import actor, actor_key, actor_label, base_context


def rule(event):
    return event.deep_get("attributes", "action") == "api_token_created"


def _label(event):
    auth = actor(event).get("auth")
    if isinstance(auth, Mapping):
        return auth.get("tokenLabel") or ""
    return ""


def title(event):
    label = _label(event)
    if label:
        return "%s created Atlassian API token \"%s\"" % (actor_label(event), label)
    return "%s created an Atlassian API token" % actor_label(event)


def dedup(event):
    # A burst of tokens from one account is one thing to look at.
    return actor_key(event)


def alert_context(event):
    ctx = base_context(event)
    ctx["tokenLabel"] = _label(event) or None
    return ctx
