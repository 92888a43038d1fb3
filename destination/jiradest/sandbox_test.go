package jiradest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

// setup runs a sandbox and a notifier pointed at it.
func setup(t *testing.T, dep jira.Deployment, opts sandbox.Options, cfg Config) (*Notifier, *sandbox.Sandbox) {
	t.Helper()
	opts.Deployment = dep
	if opts.Projects == nil {
		opts.Projects = []sandbox.Project{{Key: "SEC", Fields: []sandbox.Field{{ID: "customfield_10010", Name: "Team"}}}}
	}
	opts.Validate = requestValidator(t, dep)
	sb, err := sandbox.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	u := sandbox.DefaultUser
	user := u.Email
	if dep == jira.DeploymentDataCenter {
		user = u.Name
	}
	timeout := 2 * time.Second
	cfg.Client = jira.New(jira.Config{BaseURL: sb.URL(), Deployment: dep, User: user, Token: u.Token, Timeout: timeout})
	if cfg.Destination == "" {
		cfg.Destination = "sec-jira"
	}
	if cfg.Project == "" {
		cfg.Project = "SEC"
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, sb
}

func notify(t *testing.T, n *Notifier, note destination.Notification) (destination.Receipt, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Notify(ctx, note)
}

func TestEndToEnd(t *testing.T) {
	for _, dep := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(dep), func(t *testing.T) {
			assignee := sandbox.DefaultUser.AccountID
			if dep == jira.DeploymentDataCenter {
				assignee = sandbox.DefaultUser.Name
			}
			n, sb := setup(t, dep, sandbox.Options{}, Config{
				AssigneeID: assignee, Labels: []string{"security-detection"},
				LabelsBySeverity: map[alert.Severity][]string{alert.SeverityHigh: {"p1"}},
				Priority:         map[alert.Severity]string{alert.SeverityHigh: "High"},
				CustomFields:     map[string]any{"customfield_10010": "blue"},
				PublicURL:        "https://ab.example",
			})
			a := sample()
			r, err := notify(t, n, destination.Notification{Alert: a, DeliveryID: 1, Attempt: 1})
			if err != nil {
				t.Fatal(err)
			}
			issues := sb.Issues()
			if len(issues) != 1 {
				t.Fatalf("%d issues", len(issues))
			}
			is := issues[0]
			marker := Marker("sec-jira", "a-1")
			want := &alert.Issue{Key: is.Key, ID: is.ID, URL: sb.URL() + "/browse/" + is.Key, Status: "To Do"}
			if *r.Issue != *want {
				t.Fatalf("receipt %+v, want %+v", r.Issue, want)
			}
			if is.Project != "SEC" || is.IssueType != "Task" || is.Summary != "[HIGH] admin logged in as *alice*" ||
				is.Priority != "High" || strings.Join(is.Labels, ",") != "security-detection,p1,"+marker ||
				is.Assignee == nil || is.Assignee.AccountID != sandbox.DefaultUser.AccountID {
				t.Fatalf("stored issue: %+v", is)
			}
			if got := string(is.Fields["customfield_10010"]); got != `"blue"` {
				t.Fatalf("custom field %s", got)
			}
			var prop struct{ AlertID, Destination, Marker string }
			raw := is.Properties[PropertyKey]
			if dep == jira.DeploymentDataCenter {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatalf("DC property %s: %v", raw, err)
				}
				raw = json.RawMessage(s)
			}
			if err := json.Unmarshal(raw, &prop); err != nil || prop.AlertID != "a-1" ||
				prop.Destination != "sec-jira" || prop.Marker != marker {
				t.Fatalf("property %s: %v", is.Properties[PropertyKey], err)
			}
			if dep == jira.DeploymentCloud {
				requireADF(t, json.RawMessage(is.Description))
				doc, err := adf.Parse(is.Description)
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := json.Marshal(defaultADF(t, a, "https://ab.example")); string(mustCompact(t, is.Description)) != string(mustCompact(t, want)) {
					t.Fatalf("stored description differs from the one built:\n%s\n%s", is.Description, want)
				}
				if md := adf.ToMarkdown(doc); !strings.Contains(md, "**Alert ID:** `a-1`") ||
					!strings.Contains(md, "[View the alert in alertbridge](https://ab.example/alerts/a-1)") {
					t.Fatalf("description: %s", md)
				}
			} else {
				var w string
				if err := json.Unmarshal(is.Description, &w); err != nil || w != defaultWiki(t, a, "https://ab.example") {
					t.Fatalf("stored description %s (%v)", is.Description, err)
				}
			}

			// The first create learns the initial status (one GET); every
			// later new alert costs exactly one request, the create.
			before := len(sb.Requests())
			b := sample()
			b.AlertID = "a-2"
			if _, err := notify(t, n, destination.Notification{Alert: b, DeliveryID: 2, Attempt: 1}); err != nil {
				t.Fatal(err)
			}
			if reqs := sb.Requests()[before:]; len(reqs) != 1 || reqs[0].Method != http.MethodPost {
				t.Fatalf("second alert sent %d requests: %+v", len(reqs), reqs)
			}

			// A repeat (manual dispatch) of a linked alert sends nothing and
			// changes nothing.
			before = len(sb.Requests())
			r2, err := notify(t, n, destination.Notification{Alert: a, DeliveryID: 3, Attempt: 1, Issue: r.Issue})
			if err != nil || r2.Issue.Key != is.Key || len(sb.Requests()) != before {
				t.Fatalf("repeat: %+v %v, %d requests", r2, err, len(sb.Requests())-before)
			}
			if errs := sb.ValidationErrors(); len(errs) > 0 {
				t.Fatalf("requests break the OpenAPI spec: %v", errs)
			}
		})
	}
}

func mustCompact(t *testing.T, raw []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return b
}

// A create whose answer is lost is found by the next attempt, after the
// search lag, and never made twice.
func TestLostAnswerFoundAfterLag(t *testing.T) {
	n, sb := setup(t, jira.DeploymentCloud, sandbox.Options{IndexLag: 300 * time.Millisecond}, Config{SearchLag: 600 * time.Millisecond})
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultLostAnswer, Method: http.MethodPost, PathPrefix: "/rest/api/3/issue", Count: 1, Delay: 100 * time.Millisecond})
	a := sample()
	note := destination.Notification{Alert: a, DeliveryID: 7, Attempt: 1}
	if _, err := notify(t, n, note); err == nil || destination.IsPermanent(err) {
		t.Fatalf("lost answer: %v", err)
	}
	if len(sb.Issues()) != 1 {
		t.Fatal("the lost create did not create")
	}
	// The next attempt searches, finds nothing (the index lags) and waits.
	note.Attempt = 2
	_, err := notify(t, n, note)
	d, ok := destination.RetryDelay(err)
	if !ok || d <= 0 || d > 600*time.Millisecond {
		t.Fatalf("second attempt: %v (delay %v)", err, d)
	}
	time.Sleep(d)
	note.Attempt = 3
	r, err := notify(t, n, note)
	if err != nil {
		t.Fatal(err)
	}
	if is := sb.Issues(); len(is) != 1 || r.Issue.Key != is[0].Key {
		t.Fatalf("%d issues; receipt %+v", len(is), r.Issue)
	}
}

// A create Jira serves after the client gave up on it lands later than the
// attempt ended: the next attempts wait out the lag from as late again as
// the client waited, so they find it instead of creating a second issue.
func TestCreateServedAfterTimeoutIsFound(t *testing.T) {
	_, sb := setup(t, jira.DeploymentCloud, sandbox.Options{IndexLag: 300 * time.Millisecond}, Config{})
	n, err := New(Config{Destination: "sec-jira", Project: "SEC", SearchLag: 500 * time.Millisecond,
		Client: jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: sandbox.DefaultUser.Email,
			Token: sandbox.DefaultUser.Token, Timeout: time.Second})})
	if err != nil {
		t.Fatal(err)
	}
	// Served 1.6 s after it arrived: 0.6 s after the client gave up, after
	// the first attempt's end plus the search lag.
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServedLate, Method: http.MethodPost, PathPrefix: "/rest/api/3/issue", Count: 1, Delay: 1600 * time.Millisecond})
	note := destination.Notification{Alert: sample(), DeliveryID: 11, Attempt: 1}
	if _, err := notify(t, n, note); err == nil || destination.IsPermanent(err) || !timedOut(err) {
		t.Fatalf("first attempt: %v, want a timeout", err)
	}
	// The attempts as the delivery worker makes them: each snooze waited out.
	for note.Attempt = 2; note.Attempt < 10; note.Attempt++ {
		r, err := notify(t, n, note)
		if err == nil {
			// Count once the late create has landed.
			lateServed := func() bool {
				for _, q := range sb.Requests() {
					if q.Fault == sandbox.FaultServedLate.String() && q.Served != 0 {
						return true
					}
				}
				return false
			}
			for deadline := time.Now().Add(10 * time.Second); !lateServed(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the late create was never served")
				}
			}
			if is := sb.Issues(); len(is) != 1 || r.Issue.Key != is[0].Key {
				t.Fatalf("%d issues for one alert; receipt %+v", len(is), r.Issue)
			}
			return
		}
		d, ok := destination.RetryDelay(err)
		if !ok {
			t.Fatalf("attempt %d: %v", note.Attempt, err)
		}
		time.Sleep(d)
	}
	t.Fatal("no issue after 9 attempts")
}

// After a restart the notifier knows nothing of earlier attempts: it
// searches and waits out the lag counted from the last attempt.
func TestUnknownEarlierAttempt(t *testing.T) {
	n, sb := setup(t, jira.DeploymentCloud, sandbox.Options{IndexLag: time.Hour}, Config{SearchLag: time.Minute})
	now := time.Now()
	n.cfg.Now = func() time.Time { return now }
	note := destination.Notification{Alert: sample(), DeliveryID: 9, Attempt: 2, LastAttempt: now.Add(-20 * time.Second)}
	_, err := notify(t, n, note)
	if d, ok := destination.RetryDelay(err); !ok || d != 40*time.Second {
		t.Fatalf("want a 40s wait, got %v", err)
	}
	note.LastAttempt = now.Add(-2 * time.Minute)
	note.DeliveryID = 10
	if _, err := notify(t, n, note); err != nil || len(sb.Issues()) != 1 {
		t.Fatalf("after the lag: %v, %d issues", err, len(sb.Issues()))
	}
	reqs := sb.Requests()
	if len(reqs) < 3 || !strings.HasSuffix(reqs[0].Path, "/search/jql") || !strings.HasSuffix(reqs[1].Path, "/search/jql") || reqs[2].Path != "/rest/api/3/issue" {
		t.Fatalf("requests: %+v", reqs)
	}
}

// A 429 closes the site: the next attempt snoozes without a request, and
// once open creates at once (a 429 proves nothing was created).
func TestRateLimited(t *testing.T) {
	n, sb := setup(t, jira.DeploymentCloud, sandbox.Options{}, Config{})
	site := jira.NewSite(0, 0)
	n.cfg.Client = jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud,
		User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token, Site: site})
	n.cfg.Site = site
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Count: 1, RetryAfter: time.Second})
	note := destination.Notification{Alert: sample(), DeliveryID: 1, Attempt: 1}
	_, err := notify(t, n, note)
	if d, ok := destination.RetryDelay(err); !ok || d != time.Second {
		t.Fatalf("429: %v", err)
	}
	note.Attempt = 2
	_, err = notify(t, n, note)
	if d, ok := destination.RetryDelay(err); !ok || d <= 0 || d > time.Second {
		t.Fatalf("while closed: %v", err)
	}
	if len(sb.Requests()) != 1 {
		t.Fatalf("%d requests inside the Retry-After window", len(sb.Requests()))
	}
	time.Sleep(time.Until(site.BlockedUntil()))
	note.Attempt = 3
	if _, err := notify(t, n, note); err != nil {
		t.Fatal(err)
	}
	reqs := sb.Requests()
	if reqs[1].Method != http.MethodPost || reqs[1].Path != "/rest/api/3/issue" {
		t.Fatalf("after the window: %+v", reqs[1])
	}
	if v := sb.RetryAfterViolations(0); len(v) > 0 {
		t.Fatalf("requests inside a Retry-After window: %+v", v)
	}
}

func TestPermanentErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    Config
		token  string
		status int
		hint   string
	}{
		{"bad token", Config{}, "wrong", 401, "token"},
		{"unknown project", Config{Project: "NOPE"}, "", 0, "project"},
		{"unknown priority", Config{Priority: map[alert.Severity]string{alert.SeverityHigh: "Urgentest"}}, "", 400, "priority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, sb := setup(t, jira.DeploymentCloud, sandbox.Options{}, tt.cfg)
			if tt.token != "" {
				n.cfg.Client = jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud,
					User: sandbox.DefaultUser.Email, Token: tt.token})
			}
			_, err := notify(t, n, destination.Notification{Alert: sample(), DeliveryID: 1, Attempt: 1})
			if !destination.IsPermanent(err) || !strings.Contains(strings.ToLower(err.Error()), tt.hint) {
				t.Fatalf("want a permanent error naming %q, got %v", tt.hint, err)
			}
			if strings.Contains(err.Error(), sandbox.DefaultUser.Token) || (tt.token != "" && strings.Contains(err.Error(), tt.token)) {
				t.Fatalf("the error shows the token: %v", err)
			}
			var je *jira.Error
			if tt.status != 0 && (!asJiraError(err, &je) || je.Status != tt.status) {
				t.Fatalf("status: %v", err)
			}
			if len(sb.Issues()) != 0 {
				t.Fatal("an issue was created")
			}
		})
	}
	_ = fmt.Sprint
}

// requestValidator checks every request the sandbox receives against the
// deployment's OpenAPI spec (and ADF bodies against the ADF schema).
func requestValidator(t *testing.T, dep jira.Deployment) func(*http.Request, []byte) error {
	return openapicheck.Validate(t, dep)
}

func asJiraError(err error, target **jira.Error) bool { return errors.As(err, target) }

// The wait after an uncertain create is the site's measured search lag,
// not the configured ceiling: a site whose index lags 300ms makes a 502 on
// create cost seconds, not the minute Cloud's default would.
func TestSearchLagIsMeasured(t *testing.T) {
	n, sb := setup(t, jira.DeploymentCloud, sandbox.Options{IndexLag: 300 * time.Millisecond}, Config{})
	site := jira.NewSite(0, 0)
	n.cfg.Site = site
	n.cfg.Client = jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud,
		User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token, Timeout: 2 * time.Second, Site: site})
	if _, err := notify(t, n, destination.Notification{Alert: sample(), DeliveryID: 1, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	lag, at := site.IndexLag()
	for at.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the site's search lag was never measured")
		}
		time.Sleep(20 * time.Millisecond)
		lag, at = site.IndexLag()
	}
	if lag < 300*time.Millisecond || lag > 5*time.Second {
		t.Fatalf("measured lag %s on a sandbox whose index lags 300ms", lag)
	}

	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultStoredServerError, Method: http.MethodPost, PathPrefix: "/rest/api/3/issue", Count: 1})
	a := sample()
	a.AlertID = "uncertain"
	note := destination.Notification{Alert: a, DeliveryID: 2, Attempt: 1}
	if _, err := notify(t, n, note); err == nil || destination.IsPermanent(err) {
		t.Fatalf("stored-then-502 create: %v", err)
	}
	note.Attempt = 2
	_, err := notify(t, n, note)
	d, ok := destination.RetryDelay(err)
	if want := 2*lag + time.Second; !ok || d <= 0 || d > want {
		t.Fatalf("after an uncertain create: %v (wait %s), want a wait of at most %s", err, d, want)
	}
	if got := len(sb.Issues()); got != 2 {
		t.Fatalf("%d issues, want 2 (the second attempt must not create)", got)
	}
}

// With create_if_resolved: false, an alert resolved before its delivery
// ran gets no issue, and the delivery is done; an open one still does.
func TestSkipResolved(t *testing.T) {
	n, sb := setup(t, jira.DeploymentCloud, sandbox.Options{}, Config{SkipResolved: true})
	a := sample()
	a.Status = alert.StatusResolved
	r, err := notify(t, n, destination.Notification{Alert: a, DeliveryID: 1, Attempt: 1})
	if err != nil || r.Issue != nil || len(sb.Requests()) != 0 {
		t.Fatalf("resolved alert: receipt %+v, error %v, %d requests; want no issue and no request", r, err, len(sb.Requests()))
	}
	b := sample()
	b.AlertID = "still-open"
	if r, err := notify(t, n, destination.Notification{Alert: b, DeliveryID: 2, Attempt: 1}); err != nil || r.Issue == nil {
		t.Fatalf("open alert: receipt %+v, error %v", r, err)
	}
}
