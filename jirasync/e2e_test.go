package jirasync_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

const hookSecret = "e2e-webhook-secret"

// site is one Jira tenant (a sandbox with webhooks on), with a client for
// alertbridge's service account and one for a person working in Jira.
type site struct {
	sb       *sandbox.Sandbox
	bot, ann *jira.Client
	dests    []string // destinations on this site, which Jira would each send webhooks to
}

// e2e is alertbridge — store, queue, outbound sync, the inbound webhook
// receiver — wired as serve wires it, against one or more sandbox sites.
type e2e struct {
	st    store.Store
	svc   *lifecycle.Service
	sites []*site
	// issue of the alert per destination
	issues map[string]string
	dsite  map[string]*site
	alert  string
	// handled, when set, is told how long each webhook took to apply.
	handled atomic.Pointer[func(time.Duration)]
}

func twoWay() config.JiraSync {
	s := defaultSync()
	s.Status, s.Assignee, s.Comments = config.SyncTwoWay, config.SyncTwoWay, config.SyncTwoWay
	s.WebhookSecret = config.Secret{}
	return s
}

// siteSpec is one Jira tenant and the destinations configured on it.
type siteSpec struct {
	dep   jira.Deployment
	dests []string
}

// newE2E starts the sites on a store of the driver given.
func newE2E(t testing.TB, driver string, layout []siteSpec) *e2e {
	t.Helper()
	ctx := context.Background()
	var handler atomic.Pointer[http.Handler]
	x := &e2e{st: testdb.Open(t, driver), issues: map[string]string{}, dsite: map[string]*site{}}
	mux := http.NewServeMux()
	// A site with several destinations has one webhook registered per
	// destination; Jira sends each event to all of them. The sandbox has one
	// webhook URL, so /site/{i} fans its deliveries out as Jira would.
	mux.HandleFunc("POST /site/{i}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := *handler.Load()
		i, _ := strconv.Atoi(r.PathValue("i"))
		status := http.StatusNoContent
		for _, d := range layout[i].dests {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/jira/"+d, strings.NewReader(string(body)))
			req.Header = r.Header.Clone()
			req.SetPathValue("destination", d)
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, req)
			if f := x.handled.Load(); f != nil {
				(*f)(time.Since(start))
			}
			if rec.Code >= 300 {
				t.Errorf("webhook to %s: %d %s", d, rec.Code, rec.Body)
				status = rec.Code
			}
		}
		w.WriteHeader(status)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	var (
		sdests []jirasync.Destination
		hdests []*inbound.Destination
	)
	for i, spec := range layout {
		names := spec.dests
		bot, user := sandbox.DefaultUser.Email, ann.Email
		if spec.dep == jira.DeploymentDataCenter {
			bot, user = sandbox.DefaultUser.Name, ann.Name
		}
		sb, err := sandbox.Start(sandbox.Options{Deployment: spec.dep,
			Users: []sandbox.User{sandbox.DefaultUser, ann}, WebhookURL: srv.URL + "/site/" + strconv.Itoa(i), WebhookSecret: hookSecret,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sb.Close() })
		s := &site{sb: sb, dests: names,
			bot: jira.New(jira.Config{BaseURL: sb.URL(), Deployment: spec.dep, User: bot, Token: sandbox.DefaultUser.Token, Timeout: 5 * time.Second}),
			ann: jira.New(jira.Config{BaseURL: sb.URL(), Deployment: spec.dep, User: user, Token: ann.Token, Timeout: 5 * time.Second}),
		}
		x.sites = append(x.sites, s)
		for _, d := range names {
			x.dsite[d] = s
			sdests = append(sdests, jirasync.Destination{Name: d, Client: s.bot, Sync: twoWay()})
			hdests = append(hdests, &inbound.Destination{Name: d, Secret: hookSecret, Sync: twoWay(), Jira: s.bot})
		}
	}
	jl, err := jobs.New(ctx, jobs.Config{DB: x.st.Handle(), Queues: map[string]int{jirasync.Queue: 20, delivery.Queue: 5}})
	if err != nil {
		t.Fatal(err)
	}
	syncer := jirasync.New(jl, x.st, sdests, jirasync.Options{})
	q := delivery.New(jl, x.st, delivery.Config{OnLinked: syncer.OnLinked})
	testdb.StartJobs(t, jl)
	x.svc = lifecycle.New(x.st, q, nil, lifecycle.Options{OnChange: syncer.OnChange})
	t.Cleanup(x.svc.Close)
	var h http.Handler = inbound.New(inbound.Config{Service: x.svc, Store: x.st, Destinations: hdests})
	handler.Store(&h)

	// The alert, with an issue in each destination, as delivery leaves it.
	a := lifecycle.TestAlert(time.Now())
	x.alert = a.AlertID
	if err := x.st.InTx(ctx, func(tx store.Tx) error { _, err := tx.InsertAlert(ctx, a); return err }); err != nil {
		t.Fatal(err)
	}
	for _, s := range x.sites {
		for _, d := range s.dests {
			ref, err := s.bot.CreateIssue(ctx, map[string]any{
				"project": map[string]string{"key": "SEC"}, "summary": "alert for " + d, "issuetype": map[string]string{"name": "Task"},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			x.issues[d] = ref.Key
			err = x.st.InTx(ctx, func(tx store.Tx) error {
				return tx.UpsertIssue(ctx, a.AlertID, alert.Issue{Destination: d, Key: ref.Key, ID: ref.ID, URL: s.bot.BrowseURL(ref.Key)})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return x
}

func (x *e2e) issue(t testing.TB, d string) sandbox.StoredIssue {
	t.Helper()
	is, ok := x.dsite[d].sb.Issue(x.issues[d])
	if !ok {
		t.Fatalf("issue of %s is gone", d)
	}
	return is
}

func (x *e2e) record(t testing.TB) *lifecycle.Record {
	t.Helper()
	r, err := x.svc.Get(context.Background(), x.alert)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (x *e2e) transitionAsAnn(t testing.TB, d, to string) {
	t.Helper()
	ctx := context.Background()
	c := x.dsite[d].ann
	ts, err := c.Transitions(ctx, x.issues[d])
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		if tr.To.Name == to {
			if err := c.DoTransition(ctx, x.issues[d], tr.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no transition to %s", to)
}

func commentsWith(is sandbox.StoredIssue, text string) int {
	n := 0
	for _, c := range is.Comments {
		if strings.Contains(string(c.Body), text) {
			n++
		}
	}
	return n
}

// quiet waits until nothing more can happen: no job may run, no site
// has a webhook waiting to be sent, and no request reached a site while
// that was checked (a job's request can queue a webhook, and a webhook's
// change a job). It decides by state; there is no quiet period to guess.
func (x *e2e) quiet(t *testing.T) {
	t.Helper()
	requests := func() int {
		n := 0
		for _, s := range x.sites {
			n += len(s.sb.Requests())
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		before := requests()
		idle := testdb.UnfinishedJobs(t, x.st) == 0
		for _, s := range x.sites {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := s.sb.FlushWebhooks(ctx); err != nil {
				idle = false
			}
			cancel()
		}
		if idle && testdb.UnfinishedJobs(t, x.st) == 0 && requests() == before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not quiet after 30s: %d jobs may still run", testdb.UnfinishedJobs(t, x.st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEndToEndTwoWay(t *testing.T) {
	cloud, dc := jira.DeploymentCloud, jira.DeploymentDataCenter
	testdb.Each(t, func(t *testing.T, driver string) {
		for name, layout := range map[string][]siteSpec{
			"one tenant, two destinations": {{cloud, []string{"jira-a", "jira-b"}}},
			// B on Data Center: webhooks with user names and wiki bodies.
			"two tenants": {{cloud, []string{"jira-a"}}, {dc, []string{"jira-b"}}},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				endToEnd(t, newE2E(t, driver, layout))
			})
		}
	})
}

func endToEnd(t *testing.T, x *e2e) {
	ctx := context.Background()

	// alertbridge → both issues.
	triaged := alert.StatusTriaged
	if _, err := x.svc.Update(ctx, x.alert, lifecycle.Patch{Status: &triaged, Actor: "sam"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both issues In Progress", func() bool {
		return x.issue(t, "jira-a").Status.Name == "In Progress" && x.issue(t, "jira-b").Status.Name == "In Progress"
	})

	// Jira A → alert → Jira B, and not back to A.
	x.transitionAsAnn(t, "jira-a", "Done")
	waitFor(t, "the alert resolved and B done", func() bool {
		return x.record(t).Alert.Status == alert.StatusResolved && x.issue(t, "jira-b").Status.Name == "Done"
	})
	// The alert's view of each issue follows Jira: A from its webhook, B
	// from the transition's answer.
	waitFor(t, "the alert showing both issues Done", func() bool {
		for _, is := range x.record(t).Issues {
			if is.Status != "Done" {
				return false
			}
		}
		return true
	})

	// An assignee set in Jira B → alert → Jira A.
	if err := x.dsite["jira-b"].ann.AssignIssue(ctx, x.issues["jira-b"], &jira.User{AccountID: ann.AccountID, Name: ann.Name}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the alert and A assigned to Ann", func() bool {
		is := x.issue(t, "jira-a")
		return x.record(t).Alert.Assignee == ann.Email && is.Assignee != nil && is.Assignee.AccountID == ann.AccountID
	})

	// A comment in Jira B → alert → Jira A, and an alert comment → both.
	var body any = adf.FromMarkdown("seen on host-7")
	if dep, _ := x.dsite["jira-b"].ann.Deployment(ctx); dep == jira.DeploymentDataCenter {
		body = "seen on host-7"
	}
	if _, err := x.dsite["jira-b"].ann.AddComment(ctx, x.issues["jira-b"], body); err != nil {
		t.Fatal(err)
	}
	if _, err := x.svc.Comment(ctx, x.alert, "sam", "contained, **closing**"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the comments mirrored", func() bool {
		a, b := x.issue(t, "jira-a"), x.issue(t, "jira-b")
		return commentsWith(a, "seen on host-7") == 1 && commentsWith(a, "contained") == 1 && commentsWith(b, "contained") == 1
	})
	x.quiet(t)

	// Settled means no echo either: each change appears once.
	r := x.record(t)
	var alertComments []string
	for _, c := range r.Comments {
		alertComments = append(alertComments, c.Body)
	}
	if len(r.Comments) != 2 {
		t.Errorf("alert comments = %q, want Ann's and Sam's", alertComments)
	}
	// The status change that came from A is noted on B only.
	note := "changed the status from TRIAGED to RESOLVED"
	if a, b := commentsWith(x.issue(t, "jira-a"), note), commentsWith(x.issue(t, "jira-b"), note); a != 0 || b != 1 {
		t.Errorf("status notes of the change made in A: %d on A (want 0), %d on B (want 1)", a, b)
	}
	if n := commentsWith(x.issue(t, "jira-b"), "seen on host-7"); n != 1 {
		t.Errorf("Ann's comment is on B %d times, want once (never posted back)", n)
	}
	for _, d := range []string{"jira-a", "jira-b"} {
		if is := x.issue(t, d); is.Status.Name != "Done" || is.Assignee == nil || is.Assignee.AccountID != ann.AccountID {
			t.Errorf("%s ends %s assigned to %+v", d, is.Status.Name, is.Assignee)
		}
	}
	for _, e := range r.Timeline {
		if e.Action == jirasync.ActionSyncFailed {
			t.Errorf("sync failure on the timeline: %s", e.Detail)
		}
	}
}
