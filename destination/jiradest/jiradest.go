// Package jira delivers alerts as Jira issues, on Jira Cloud (REST v3,
// descriptions in Atlassian Document Format) and Jira Data Center (REST v2,
// wiki markup): exactly one issue per alert and destination.
//
// # Exactly one issue
//
// A delivery's first attempt sends one request, the create. The create
// writes a marker unique to the alert and destination twice: as a label
// (alertbridge-<hash>), which JQL can search, and as the issue property
// "alertbridge", which says in plain words what the label stands for.
//
// Any later attempt may follow one whose create reached Jira though its
// answer never came back (a timeout after sending, a reset connection, a
// crash between sending and recording). Such an attempt searches for the
// marker first and links the issue it finds. Jira Cloud's search index lags
// writes, so "not found" proves nothing about a create sent moments ago: if
// the previous attempt ended less than the search lag ago, the attempt
// snoozes (destination.RetryAfter, which spends no retry attempt) until the
// lag has passed since that attempt, then searches again, and creates only
// when the marker is still not found. A create older than the lag is in the
// index, so the search is then conclusive.
//
// The lag waited is the site's own: now and then (LagProbeEvery) a
// successful create is followed, in the background, by searches for its
// marker until it shows, and twice that time plus a second is waited
// (seconds on a healthy site), with the configured search lag as the
// ceiling and as the wait before any measurement.
//
// A delivery whose alert already has an issue for this destination (a
// manual dispatch, a repeat) sends nothing: it neither creates a second issue
// nor rewrites fields a person may have edited.
package jiradest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jira"
)

// Default search lags: how long after a create its issue may still be
// missing from JQL results. Jira Cloud's index is eventually consistent and
// has been seen to lag 10–20 s; Data Center indexes on the node that wrote,
// and a cluster's other nodes catch up within seconds.
const (
	DefaultCloudSearchLag      = 60 * time.Second
	DefaultDataCenterSearchLag = 10 * time.Second
)

// LagProbeEvery is how often a site's search lag is measured while issues
// are being created: each measurement costs a few searches.
const LagProbeEvery = 15 * time.Minute

// Config configures one Jira destination.
type Config struct {
	// Destination is the destination's name, part of the marker.
	Destination string
	Client      *jira.Client
	// Site is the client's Site; when it is closed by a 429 the notifier
	// snoozes at once instead of holding a worker while it waits.
	Site *jira.Site

	Project    string
	IssueType  string // default Task
	AssigneeID string // accountId on Cloud, user name on Data Center

	// Labels, LabelsBySeverity, Summary, Description and the strings in
	// CustomFields are templates over Data (see Funcs). The description
	// renders Markdown, converted to ADF on Cloud and wiki markup on Data
	// Center.
	Labels           []string
	LabelsBySeverity map[alert.Severity][]string
	Priority         map[alert.Severity]string
	Summary          string // default DefaultSummary
	Description      string // default DefaultDescription
	CustomFields     map[string]any

	PublicURL string // base of the alert's page, linked from the description
	// SearchLag overrides the default search lag of the deployment.
	SearchLag time.Duration
	// SkipResolved makes no issue for an alert already resolved or closed
	// when its delivery runs.
	SkipResolved bool
	Now          func() time.Time // tests
}

// DefaultSummary is the summary template when none is configured.
const DefaultSummary = "[{{.Severity}}] {{.Title}}"

// Notifier creates Jira issues for alerts.
type Notifier struct {
	cfg Config
	tpl templates

	mu            sync.Mutex
	initialStatus string    // the status new issues start in, learned once
	statusBusy    bool      // a request is learning it
	statusRetry   time.Time // after a failed read, when to try again
	// tracks holds, per delivery in progress, what this process's attempts
	// did, so that a retry after an attempt that provably created nothing
	// (a 429, a refused request) neither searches nor waits.
	tracks map[int64]*track
}

// track is what this process knows about one delivery's attempts.
type track struct {
	attempts  int       // attempts this process made, in a row
	uncertain time.Time // when the last create whose outcome is unknown ended; zero if none
}

// New returns a notifier, or an error when a template does not parse.
func New(cfg Config) (*Notifier, error) {
	if cfg.Client == nil {
		return nil, errors.New("jira destination: no client")
	}
	if cfg.IssueType == "" {
		cfg.IssueType = "Task"
	}
	if cfg.Summary == "" {
		cfg.Summary = DefaultSummary
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Description == "" {
		cfg.Description = DefaultDescription
	}
	t, err := parseTemplates(cfg)
	if err != nil {
		return nil, fmt.Errorf("jira destination %s: %w", cfg.Destination, err)
	}
	return &Notifier{cfg: cfg, tpl: t, tracks: map[int64]*track{}}, nil
}

// Notify creates the alert's issue, or finds the one an earlier attempt
// created, or leaves an already linked issue alone.
func (n *Notifier) Notify(ctx context.Context, note destination.Notification) (destination.Receipt, error) {
	if is := note.Issue; is != nil && is.Key != "" {
		return destination.Receipt{Issue: is, Detail: "issue " + is.Key + " already exists; left as it is"}, nil
	}
	if n.cfg.SkipResolved && !note.Test && (note.Alert.Status == alert.StatusResolved || note.Alert.Status == alert.StatusClosed) {
		return destination.Receipt{Detail: "the alert was " + string(note.Alert.Status) + " before its issue was created; none made (create_if_resolved: false)"}, nil
	}
	if err := n.gate(); err != nil {
		return destination.Receipt{}, n.done(note, false, err)
	}
	dep, err := n.cfg.Client.Deployment(ctx)
	if err != nil {
		return destination.Receipt{}, n.done(note, false, classify(err))
	}
	marker := Marker(n.cfg.Destination, note.Alert.AlertID)
	if note.Reopened {
		// The alert's next issue: its own marker, fixed by the delivery
		// that makes it, so its retries find it and not the closed one.
		marker = Marker(n.cfg.Destination, note.Alert.AlertID+"#"+strconv.FormatInt(note.DeliveryID, 10))
	}
	if doubt, since := n.doubt(note); doubt {
		found, err := n.find(ctx, marker)
		if err != nil {
			return destination.Receipt{}, n.done(note, false, err)
		}
		if found != nil {
			n.forget(note.DeliveryID)
			return destination.Receipt{Issue: found, Detail: "found the issue an earlier attempt created"}, nil
		}
		if wait := n.lagWait(dep, since); wait > 0 {
			return destination.Receipt{}, n.done(note, false, destination.RetryAfter(fmt.Errorf(
				"no issue with label %s yet, but Jira's search may not show an issue created %s ago: searching again before creating",
				marker, n.cfg.Now().Sub(since).Round(time.Millisecond)), wait))
		}
	}
	// A template that fails for this alert (a nested context key it lacks)
	// falls back to the default rather than costing the alert its issue;
	// the receipt's detail, on the alert's timeline, says which and why.
	fields, failed := n.fields(dep, note.Alert, marker)
	var prop any = map[string]any{"alertId": note.Alert.AlertID, "destination": n.cfg.Destination, "marker": marker}
	if dep == jira.DeploymentDataCenter {
		// Data Center's API describes a create's property values as strings
		// (holding JSON), where Cloud takes the JSON itself.
		b, _ := json.Marshal(prop)
		prop = string(b)
	}
	props := map[string]any{PropertyKey: prop}
	// Batched: in a storm, creates waiting for the site share a bulk
	// create; each still has its own marker and its own error.
	ref, err := n.cfg.Client.CreateIssueBatched(ctx, fields, props)
	if err != nil {
		return destination.Receipt{}, n.done(note, true, classify(fmt.Errorf("create issue: %w", err)))
	}
	n.forget(note.DeliveryID)
	n.probeLag(marker)
	detail := "created " + ref.Key
	if failed != nil {
		detail += "; " + failed.Error()
	}
	return destination.Receipt{Issue: &alert.Issue{
		Key: ref.Key, ID: ref.ID, URL: n.cfg.Client.BrowseURL(ref.Key), Status: n.status(ctx, ref.Key),
	}, Detail: detail}, nil
}

// doubt reports whether an earlier attempt of this delivery may have
// created the issue, and from when the search lag is to be counted. When
// this process made every earlier attempt it knows exactly; otherwise (a
// restart, another replica) any earlier attempt may have.
func (n *Notifier) doubt(note destination.Notification) (bool, time.Time) {
	if note.Attempt <= 1 {
		return false, time.Time{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if t := n.tracks[note.DeliveryID]; t != nil && t.attempts == note.Attempt-1 {
		return !t.uncertain.IsZero(), t.uncertain
	}
	return true, note.LastAttempt
}

// done notes a failed attempt and returns err. sent says a create went out:
// unless Jira answered that it refused it (a 4xx), it may have created the
// issue.
func (n *Notifier) done(note destination.Notification, sent bool, err error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if destination.IsPermanent(err) {
		delete(n.tracks, note.DeliveryID)
		return err
	}
	t := n.tracks[note.DeliveryID]
	if t == nil || t.attempts != note.Attempt-1 {
		// Earlier attempts were not ours: stay in doubt from their time.
		t = &track{uncertain: note.LastAttempt}
		if note.Attempt <= 1 {
			t.uncertain = time.Time{}
		}
		n.tracks[note.DeliveryID] = t
	}
	t.attempts = note.Attempt
	var je *jira.Error
	if sent && !(errors.As(err, &je) && je.Status >= 400 && je.Status < 500) {
		t.uncertain = n.cfg.Now()
		if timedOut(err) {
			// Jira had the request and did not answer in time: it may be
			// working on it still, so the create may land as late again as
			// we waited, and the search lag counts from then.
			t.uncertain = t.uncertain.Add(n.cfg.Client.Timeout())
		}
	}
	return err
}

// timedOut reports whether a request ended because the client stopped
// waiting for its answer.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func (n *Notifier) forget(id int64) {
	n.mu.Lock()
	delete(n.tracks, id)
	n.mu.Unlock()
}

// gate snoozes the delivery while the site is closed by a 429, without
// sending anything: Jira asked for quiet, and a worker should not sit
// waiting for it.
func (n *Notifier) gate() error {
	if n.cfg.Site == nil {
		return nil
	}
	until := n.cfg.Site.BlockedUntil()
	if until.IsZero() {
		return nil
	}
	d := max(time.Until(until), 10*time.Millisecond)
	return destination.RetryAfter(errors.New("jira is rate limiting this site"), d)
}

// lagWait is how much longer to wait before a search that found nothing
// can be trusted: until the search lag has passed since the previous
// attempt, which may have created the issue.
func (n *Notifier) lagWait(dep jira.Deployment, last time.Time) time.Duration {
	if last.IsZero() {
		return 0
	}
	return last.Add(n.searchLag(dep)).Sub(n.cfg.Now())
}

// searchLag is how long after a create a search that misses it is still
// inconclusive: the site's measured lag with margin, within the ceiling.
func (n *Notifier) searchLag(dep jira.Deployment) time.Duration {
	ceiling := n.ceiling(dep)
	if n.cfg.Site == nil {
		return ceiling
	}
	if lag, at := n.cfg.Site.IndexLag(); !at.IsZero() {
		return min(ceiling, 2*lag+time.Second)
	}
	return ceiling
}

func (n *Notifier) ceiling(dep jira.Deployment) time.Duration {
	if n.cfg.SearchLag > 0 {
		return n.cfg.SearchLag
	}
	if dep == jira.DeploymentDataCenter {
		return DefaultDataCenterSearchLag
	}
	return DefaultCloudSearchLag
}

// probeLag measures the site's search lag with the issue just created, in
// the background, when a measurement is due.
func (n *Notifier) probeLag(marker string) {
	site := n.cfg.Site
	if site == nil || !site.StartLagProbe(LagProbeEvery) {
		return
	}
	created := n.cfg.Now()
	go func() {
		dep, _ := n.cfg.Client.Deployment(context.Background())
		ceiling := n.ceiling(dep)
		ctx, cancel := context.WithTimeout(context.Background(), ceiling+n.cfg.Client.Timeout())
		defer cancel()
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				site.EndLagProbe(0, false)
				return
			case <-t.C:
			}
			found, err := n.find(ctx, marker)
			elapsed := n.cfg.Now().Sub(created)
			switch {
			case err != nil:
				site.EndLagProbe(0, false)
				return
			case found != nil:
				site.EndLagProbe(elapsed, true)
				return
			case elapsed >= ceiling:
				site.EndLagProbe(ceiling, true)
				return
			}
		}
	}()
}

// find looks the marker up. Should there ever be several issues (one made
// by hand with the label, say), the oldest is the alert's.
func (n *Notifier) find(ctx context.Context, marker string) (*alert.Issue, error) {
	issues, err := n.cfg.Client.SearchJQL(ctx, `labels = "`+marker+`" ORDER BY created ASC`, []string{"status"}, 10)
	if err != nil {
		return nil, classify(fmt.Errorf("search for an issue created earlier: %w", err))
	}
	if len(issues) == 0 {
		return nil, nil
	}
	sort.SliceStable(issues, func(i, j int) bool { return idLess(issues[i].ID, issues[j].ID) })
	is := issues[0]
	var st jira.Status
	_, _ = is.Field("status", &st) // the status is a nicety; the link is what matters
	return &alert.Issue{Key: is.Key, ID: is.ID, URL: n.cfg.Client.BrowseURL(is.Key), Status: st.Name}, nil
}

func idLess(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA != nil || errB != nil {
		return a < b
	}
	return x < y
}

// status is the status a new issue starts in. The create's answer does not
// say, so it is read once from the first issue created and remembered: every
// issue of one project and type starts in its workflow's initial status, and
// one request per process keeps creates at one request each.
//
// The read happens outside the notifier's lock, one at a time: deliveries
// finishing meanwhile record the link with no status rather than queue
// behind a rate-limited request (the reconcile that follows the alert
// fills it in), and a failed read is not repeated for a minute.
func (n *Notifier) status(ctx context.Context, key string) string {
	n.mu.Lock()
	if n.initialStatus != "" || n.statusBusy || n.cfg.Now().Before(n.statusRetry) {
		s := n.initialStatus
		n.mu.Unlock()
		return s
	}
	n.statusBusy = true
	n.mu.Unlock()

	var name string
	is, err := n.cfg.Client.GetIssue(ctx, key, "status")
	if err == nil {
		var st jira.Status
		if ok, _ := is.Field("status", &st); ok {
			name = st.Name
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.statusBusy = false
	if name == "" {
		n.statusRetry = n.cfg.Now().Add(time.Minute)
		return ""
	}
	n.initialStatus = name
	return name
}

// Fields returns the create request's fields in the deployment's
// representation, or an error naming every template that fails for the
// alert.
func (n *Notifier) Fields(dep jira.Deployment, a *alert.Alert, marker string) (map[string]any, error) {
	f, failed := n.fields(dep, a, marker)
	if failed != nil {
		return nil, failed
	}
	return f, nil
}

// fields builds the create request's fields. A template that fails for the
// alert is replaced by its default (a label or custom field by nothing),
// and the failures are returned with the fields.
func (n *Notifier) fields(dep jira.Deployment, a *alert.Alert, marker string) (map[string]any, error) {
	d := NewData(n.cfg.PublicURL, a)
	var failed []string
	fail := func(what string, err error) {
		failed = append(failed, what+" ("+err.Error()+")")
	}
	summary, err := Summary(n.tpl.summary, d)
	if err != nil {
		fail("summary: the default was used", err)
		summary, _ = Summary(defaultTemplates.summary, d)
	}
	f := make(map[string]any, len(n.cfg.CustomFields)+8)
	for _, k := range slices.Sorted(maps.Keys(n.tpl.custom)) {
		v, err := renderValue(n.tpl.custom[k], d)
		if err != nil {
			fail("custom_fields."+k+": left out", err)
			continue
		}
		f[k] = v
	}
	f["project"] = map[string]any{"key": n.cfg.Project}
	f["issuetype"] = map[string]any{"name": n.cfg.IssueType}
	f["summary"] = summary
	labels := func(ts []*template.Template) []string {
		out := make([]string, 0, len(ts))
		for _, t := range ts {
			l, err := Execute(t, d)
			if err != nil {
				fail(t.Name()+": left out", err)
				continue
			}
			out = append(out, labelOf(l))
		}
		return out
	}
	f["labels"] = Labels(labels(n.tpl.labels), map[alert.Severity][]string{a.Severity: labels(n.tpl.bySeverity[a.Severity])},
		a.Severity, marker)
	desc := func(t *template.Template) (any, error) {
		if dep == jira.DeploymentCloud {
			return DescriptionADF(t, d)
		}
		return DescriptionWiki(t, d)
	}
	if f["description"], err = desc(n.tpl.description); err != nil {
		fail("description: the default was used", err)
		f["description"], _ = desc(defaultTemplates.description)
	}
	if p := n.cfg.Priority[a.Severity]; p != "" {
		f["priority"] = map[string]any{"name": p}
	}
	if id := n.cfg.AssigneeID; id != "" {
		if dep == jira.DeploymentCloud {
			f["assignee"] = map[string]any{"id": id}
		} else {
			f["assignee"] = map[string]any{"name": id}
		}
	}
	if failed != nil {
		return f, errors.New("templates failed for this alert: " + strings.Join(failed, "; "))
	}
	return f, nil
}

// classify tells the delivery worker what a failure means: Jira's 4xx need
// a person (the error carries Jira's words and a hint), a 429 waits as long
// as Jira asked without spending an attempt, and 5xx, timeouts and
// connection errors retry with backoff.
func classify(err error) error {
	var je *jira.Error
	if !errors.As(err, &je) {
		return err
	}
	switch {
	case je.Status == http.StatusTooManyRequests:
		return destination.RetryAfter(err, max(je.RetryAfter, time.Second))
	case je.Status == http.StatusRequestTimeout || je.Status >= 500:
		return err
	default:
		return destination.Permanent(err)
	}
}
