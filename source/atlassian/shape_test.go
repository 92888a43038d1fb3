package atlassian_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/source/atlassian"
)

// Panther's own Atlassian rule, its Atlassian data model and the standard
// rules built on that model run on the events this source emits: the
// captured audit events, as the poller hands them to the rules.
func TestPantherAtlassianContentReadsTheSourceShape(t *testing.T) {
	pa := upstream.Path(t, "panther-analysis")
	rs, err := ruleengine.LoadDir(pa+"/rules/atlassian_rules", pa+"/rules/standard_rules", pa+"/global_helpers", pa+"/data_models")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	raw, err := os.ReadFile(upstream.Path(t, "atlassian-admin-api", "go-atlassian-mocks", "get-organization-audit-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	// The impersonation rule's own test event, in the same raw shape.
	page.Data = append(page.Data, map[string]any{"id": "imp-1", "attributes": map[string]any{
		"action": "user_logged_in_as_user", "time": "2022-12-15T00:35:15.890Z",
		"actor":   map[string]any{"email": "example.admin@example.com", "id": "1234", "name": "Example Admin"},
		"context": []any{map[string]any{"type": "users", "attributes": map[string]any{"email": "example.user@example.io"}}},
	}})
	var events []ruleengine.Event
	for _, d := range page.Data {
		events = append(events, detection.NewEvent(detection.LogTypeAtlassianAudit, atlassian.WithPantherShape(d), time.Now()))
	}
	matches, errs, err := rs.EvaluateBatch(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]ruleengine.Match{}
	for i := range events {
		for _, e := range errs[i] {
			t.Errorf("event %s: %v", events[i].ID, e)
		}
		for _, m := range matches[i] {
			got[m.Rule.ID] = append(got[m.Rule.ID], m)
		}
	}
	// added_org_admin maps to ADMIN_ROLE_ASSIGNED through the data model's
	// get_event_type (AuditLog.Type), and actor_user to EventActor.Name.
	admin := got["Standard.AdminRoleAssigned"]
	if len(admin) != 1 || admin[0].Title != "Atlassian.Audit: [Atlassian Internal System] assigned admin privileges [None] to [USER_OR_TEAM_NOT_FOUND]" {
		t.Errorf("Standard.AdminRoleAssigned: %+v", admin)
	}
	imp := got["Atlassian.User.LoggedInAsUser"]
	if len(imp) != 1 || imp[0].Title != "example.admin@example.com logged in as example.user@example.io." {
		t.Errorf("Atlassian.User.LoggedInAsUser: %+v", imp)
	}
	// Without the Panther fields the data model finds nothing.
	bare := detection.NewEvent(detection.LogTypeAtlassianAudit, page.Data[0], time.Now())
	for _, d := range page.Data {
		if d["attributes"].(map[string]any)["action"] == "added_org_admin" {
			bare = detection.NewEvent(detection.LogTypeAtlassianAudit, d, time.Now())
		}
	}
	if m, _ := rs.Evaluate(context.Background(), bare); len(m) != 0 {
		t.Errorf("the raw event alone matched %v: the test would prove nothing", m[0].Rule.ID)
	}
}
