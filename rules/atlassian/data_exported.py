from atlassian_helpers import action, actor_key, actor_label, base_context

EXPORTS = {
    "export_managed_account": "the managed accounts list",
    "export_domain_account": "the accounts of a verified domain",
    "export_unmanaged_product_instances": "the unmanaged product instances list",
    "export_audit_log": "the organization audit log",
}


def rule(event):
    return event.deep_get("attributes", "action") in EXPORTS


def title(event):
    return "%s exported %s from Atlassian" % (actor_label(event), EXPORTS.get(action(event), "data"))


def severity(event):
    # The audit log says what admins did; the account lists are a ready-made
    # phishing target list.
    if action(event) == "export_audit_log":
        return "LOW"
    return "DEFAULT"


def dedup(event):
    return "%s:%s" % (actor_key(event), action(event))


def alert_context(event):
    return base_context(event, target=EXPORTS.get(action(event)))
