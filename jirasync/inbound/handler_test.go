package inbound_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/internal/hmacsig"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

const secret = "hook-secret"

// fakeJira is Jira's user API across the network: who the service account
// is, and users by id (hidden e-mails are empty, as on Cloud).
type fakeJira struct {
	*httptest.Server
	me         jira.User
	users      map[string]jira.User
	userLookup atomic.Int64
}

func newFakeJira(t testing.TB, me jira.User, users map[string]jira.User) *fakeJira {
	f := &fakeJira{me: me, users: users}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rest/api/{v}/myself", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(f.me)
	})
	mux.HandleFunc("GET /rest/api/{v}/user", func(w http.ResponseWriter, r *http.Request) {
		f.userLookup.Add(1)
		id := r.URL.Query().Get("accountId") + r.URL.Query().Get("key")
		u, ok := f.users[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"errorMessages":["no such user"]}`)
			return
		}
		_ = json.NewEncoder(w).Encode(u)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

type env struct {
	st   store.Store
	svc  *lifecycle.Service
	srv  *httptest.Server
	jira *fakeJira
}

var serviceAccount = jira.User{AccountID: "svc-1", Name: "alertbridge", Key: "alertbridge", DisplayName: "alertbridge bot"}

func twoWay() config.JiraSync {
	return config.JiraSync{Status: config.SyncTwoWay, Assignee: config.SyncTwoWay, Comments: config.SyncTwoWay,
		StatusMap: map[alert.Status]string{alert.StatusOpen: "To Do", alert.StatusTriaged: "In Progress",
			alert.StatusResolved: "Done", alert.StatusClosed: "Done"}}
}

func newEnv(t testing.TB, driver string, users map[string]jira.User) *env {
	t.Helper()
	ctx := context.Background()
	st := testdb.Open(t, driver)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	batch := lifecycle.DefaultBatcher(st)
	// The jobs are never started: deliveries and syncs are only stored.
	jl, err := jobs.New(ctx, jobs.Config{DB: st.Handle(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	q := delivery.New(jl, st, delivery.Config{Batch: batch, Logger: logger,
		MaxAttempts: func(string) int { return 1 },
		Metrics:     delivery.NewMetrics(prometheus.NewRegistry(), st)})
	t.Cleanup(batch.Close)
	dests := []lifecycle.Destination{{Destination: route.Destination{Name: "sec"}, Type: "jira"},
		{Destination: route.Destination{Name: "oneway"}, Type: "jira"}}
	svc := lifecycle.New(st, q, dests, lifecycle.Options{Batch: batch})
	fj := newFakeJira(t, serviceAccount, users)
	client := jira.New(jira.Config{BaseURL: fj.URL, Deployment: jira.DeploymentCloud})
	oneWay := config.JiraSync{Status: config.SyncOneWay}
	hd := []*inbound.Destination{
		{Name: "sec", Secret: secret, Sync: twoWay(), Jira: client},
		{Name: "oneway", Secret: secret, Sync: oneWay, Jira: client},
	}
	for i := range 200 {
		hd = append(hd, &inbound.Destination{Name: fmt.Sprintf("sec%d", i), Secret: secret, Sync: twoWay(), Jira: client})
	}
	h := inbound.New(inbound.Config{Service: svc, Store: st, Logger: logger, Destinations: hd})
	mux := http.NewServeMux()
	mux.Handle(inbound.Pattern, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{st: st, svc: svc, srv: srv, jira: fj}
}

// linkAlert stores an alert in the given status linked to an issue of "sec".
func (e *env) linkAlert(t testing.TB, dest, alertID, key, id string, status alert.Status) {
	t.Helper()
	now := time.Now().UTC()
	err := e.st.InTx(context.Background(), func(tx store.Tx) error {
		a := &alert.Alert{ID: "Rule.One", AlertID: alertID, CreatedAt: now, UpdatedAt: now, Severity: alert.SeverityHigh,
			Type: alert.TypeRule, Title: "t", Source: alert.SourceAPI, Status: status}
		if _, err := tx.InsertAlert(ctx(), a); err != nil {
			return err
		}
		return tx.UpsertIssue(ctx(), alertID, alert.Issue{Destination: dest, Key: key, ID: id, URL: "https://x/browse/" + key})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ctx() context.Context { return context.Background() }

func (e *env) post(t *testing.T, dest string, body []byte, sig, ident string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/jira/"+dest, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set("X-Hub-Signature", sig)
	}
	if ident != "" {
		req.Header.Set("X-Atlassian-Webhook-Identifier", ident)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) record(t *testing.T, alertID string) *lifecycle.Record {
	t.Helper()
	r, err := e.svc.Get(ctx(), alertID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func samples(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(upstream.Path(t, "jira-webhooks"), "*", "*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("found %d webhook samples (%v); want the 80-odd of SOURCES.md §4", len(files), err)
	}
	return files
}

// expected is what a sample does to an alert that starts in status from.
type expected struct {
	from     alert.Status
	status   alert.Status // "" for unchanged
	assignee *string
	skipped  string // a sync_skipped detail containing this
}

func ptr(s string) *string { return &s }

var sampleEffects = map[string]expected{
	"bytebase-example-api/cloud-2024-issue_updated-status-todo-to-inprogress.json":        {from: alert.StatusOpen, status: alert.StatusTriaged},
	"mattermost-plugin-jira/webhook-issue-updated-resolved.json":                          {from: alert.StatusTriaged, status: alert.StatusResolved},
	"mattermost-plugin-jira/webhook-issue-updated-started-working.json":                   {from: alert.StatusOpen, status: alert.StatusTriaged},
	"mattermost-plugin-jira/webhook-server-issue-updated-reopened.json":                   {from: alert.StatusResolved, status: alert.StatusOpen},    // "Reopened": category new
	"mattermost-plugin-jira/webhook-server-issue-updated-closed.json":                     {from: alert.StatusTriaged, status: alert.StatusResolved}, // "Closed": category done
	"buldygins-jira-bot/cloud-2021-issue_updated-issue_generic-status-49480317.json":      {from: alert.StatusTriaged, status: alert.StatusOpen},     // category new
	"jira-to-matrix/issue__updated__status-changed.json":                                  {from: alert.StatusOpen, status: alert.StatusTriaged},
	"jira-to-matrix/issue__updated__generic.json":                                         {from: alert.StatusTriaged, status: alert.StatusOpen}, // "Paused": category new
	"sentry/edit_issue_status_payload.json":                                               {from: alert.StatusOpen, status: alert.StatusTriaged},
	"sentry/edit_issue_assignee_payload.json":                                             {from: alert.StatusOpen, assignee: ptr("jess@sentry.io")},
	"mattermost-plugin-jira/webhook-issue-updated-assigned.json":                          {from: alert.StatusOpen, assignee: ptr("some-instance-test@gmail.com")},
	"mattermost-plugin-jira/webhook-issue-updated-assigned-on-server.json":                {from: alert.StatusOpen, assignee: ptr("some-instance-test@gmail.com")},
	"mattermost-plugin-jira/webhook-issue-assigned-empty-changelog.json":                  {from: alert.StatusOpen, assignee: ptr("assignee@example.com")},
	"buldygins-jira-bot/cloud-2021-issue_updated-issue_assigned-assignee-11c6fbaa.json":   {from: alert.StatusOpen, assignee: ptr("veniamin@example.com")}, // fetched: the payload hides it
	"jira-to-matrix/issue__updated__issue-assigned.json":                                  {from: alert.StatusOpen, skipped: "has no visible e-mail"},
	"mattermost-plugin-jira/webhook-server-old-issue-updated-no-event-type-assigned.json": {from: alert.StatusOpen, assignee: ptr("some-instance-test@gmail.com")},
}

func TestEverySample(t *testing.T) {
	users := map[string]jira.User{
		"557058:bf39af2f-2a15-473b-ba9b-fecfcab48e41": {AccountID: "557058:bf39af2f-2a15-473b-ba9b-fecfcab48e41", EmailAddress: "veniamin@example.com"},
		"5b912e21fa38ae2c896099ae":                    {AccountID: "5b912e21fa38ae2c896099ae"}, // e-mail hidden
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, users)
		root := upstream.Path(t, "jira-webhooks")
		visited := map[string]bool{}
		defer func() {
			for name := range sampleEffects {
				if !visited[name] {
					t.Errorf("expected sample %s is missing", name)
				}
			}
		}()
		for i, f := range samples(t) {
			name, _ := filepath.Rel(root, f)
			t.Run(name, func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				ev, err := inbound.Parse(body)
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				visited[name] = true
				want, hasWant := sampleEffects[name]
				if want.from == "" {
					want.from = alert.StatusOpen
				}
				alertID := "alert-" + string(rune('a'+i%26)) + "-" + filepath.Base(f)
				// Some samples share an issue; each gets its own alert
				// through a per-sample key, so expectations do not mix.
				key := ev.Issue.Key
				id := ev.Issue.ID
				// Samples share issues; each goes to its own destination
				// so that expectations do not mix.
				dest := fmt.Sprintf("sec%d", i)
				e.linkAlert(t, dest, alertID, key, id, want.from)
				status, resp := e.post(t, dest, body, hmacsig.Sign(secret, body), "id-"+name)
				if status != http.StatusNoContent {
					t.Fatalf("status %d: %s", status, resp)
				}
				r := e.record(t, alertID)
				if hasWant {
					if want.status != "" && r.Alert.Status != want.status {
						t.Errorf("status = %s, want %s", r.Alert.Status, want.status)
					}
					if want.status == "" && r.Alert.Status != want.from {
						t.Errorf("status = %s, want it unchanged", r.Alert.Status)
					}
					if want.assignee != nil && r.Alert.Assignee != *want.assignee {
						t.Errorf("assignee = %q, want %q", r.Alert.Assignee, *want.assignee)
					}
					if want.skipped != "" && !hasEvent(r, inbound.ActionSyncSkipped, want.skipped) {
						t.Errorf("no sync_skipped event with %q: %+v", want.skipped, r.Timeline)
					}
				}
				if ev.Comment != nil && (ev.Kind == "comment_created" || ev.Kind == "comment_updated" ||
					strings.Contains(ev.IssueType, "comment") && ev.IssueType != "issue_comment_deleted") {
					if len(r.Comments) != 1 {
						t.Fatalf("comments = %+v, want one", r.Comments)
					}
					c := r.Comments[0]
					if !strings.HasPrefix(c.Body, "[") || !strings.Contains(c.Body, "] commented on Jira:\n\n") ||
						!strings.HasSuffix(c.Body, ev.Comment.Markdown) || !strings.HasPrefix(c.Author, "jira:") {
						t.Errorf("comment = %q by %q", c.Body, c.Author)
					}
				}
			})
		}
	})
}

func hasEvent(r *lifecycle.Record, action, detail string) bool {
	for _, ev := range r.Timeline {
		if ev.Action == action && strings.Contains(ev.Detail, detail) {
			return true
		}
	}
	return false
}

func alertsPatch(st alert.Status) lifecycle.Patch { return lifecycle.Patch{Status: &st, Actor: "test"} }
