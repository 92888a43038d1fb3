from atlassian_helpers import action, actor_label, base_context

# Single sign-on decides who may sign in as any managed account. Pointing it
# at another identity provider, or removing it, is a takeover path.
CHANGES = {
    "saml_config_created": "set up SAML single sign-on",
    "saml_config_updated": "changed the SAML single sign-on configuration",
    "saml_config_deleted": "removed SAML single sign-on",
    "gsync_sso_enabled": "turned on Google single sign-on",
    "gsync_sso_disabled": "turned off Google single sign-on",
}


def rule(event):
    return event.deep_get("attributes", "action") in CHANGES


def title(event):
    return "%s %s for Atlassian" % (actor_label(event), CHANGES[action(event)])


def severity(event):
    if action(event) in ["saml_config_created", "gsync_sso_enabled"]:
        return "MEDIUM"
    return "DEFAULT"


def dedup(event):
    return action(event)


def alert_context(event):
    return base_context(event)
