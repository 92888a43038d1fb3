package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/yuin/goldmark"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/store"
)

// pageSize is how many alerts the list shows at once; countUpTo is where
// the counts per status stop ("1000+"), so that they cost the same however
// many alerts there are.
const (
	pageSize  = 50
	countUpTo = 1000
)

type listRow struct {
	*alert.Alert
	Issues []alert.Issue
}

type statusCount struct {
	Status  alert.Status
	N       string // "12", or "1000+"
	URL     string
	Current bool
}

type listData struct {
	Status, Severity, Destination, Rule, Text string
	Rows                                      []listRow
	Counts                                    []statusCount
	Total                                     string
	Next, First                               string
	Statuses                                  []alert.Status
	Severities                                []alert.Severity
	Destinations, Rules                       []string
}

// filterURL is the list with the filters of d, changed by set.
func (d listData) filterURL(set map[string]string) string {
	v := url.Values{}
	for k, x := range map[string]string{"status": d.Status, "severity": d.Severity, "destination": d.Destination, "rule": d.Rule, "q": d.Text} {
		if x != "" {
			v.Set(k, x)
		}
	}
	for k, x := range set {
		if x == "" {
			v.Del(k)
		} else {
			v.Set(k, x)
		}
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

func (c *Console) listPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := listData{Statuses: alert.Statuses, Severities: alert.Severities}
	lq := store.ListQuery{Limit: pageSize}
	if x := q.Get("status"); x != "" {
		st, err := alert.ParseStatus(x)
		if err != nil {
			c.problem(w, r, http.StatusBadRequest, "Status: "+err.Error(), "/", nil)
			return
		}
		lq.Status, d.Status = st, string(st)
	}
	if x := q.Get("severity"); x != "" {
		sev, err := alert.ParseSeverity(x)
		if err != nil {
			c.problem(w, r, http.StatusBadRequest, "Severity: "+err.Error(), "/", nil)
			return
		}
		lq.Severity, d.Severity = sev, string(sev)
	}
	for key, dst := range map[string]*string{"destination": &lq.Destination, "rule": &lq.RuleID, "q": &lq.Text} {
		v := strings.TrimSpace(q.Get(key))
		if err := alert.CheckText(v); err != nil || len(v) > 256 {
			c.problem(w, r, http.StatusBadRequest, fmt.Sprintf("The %s filter must be at most 256 characters of text.", key), "/", nil)
			return
		}
		*dst = v
	}
	d.Destination, d.Rule, d.Text = lq.Destination, lq.RuleID, lq.Text
	if x := q.Get("cursor"); x != "" {
		if _, err := store.DecodeCursor(x); err != nil {
			c.problem(w, r, http.StatusBadRequest, "That page link is broken; start from the first page.", "/", nil)
			return
		}
		lq.Cursor = x
		d.First = d.filterURL(nil)
	}
	var (
		as     []*alert.Alert
		next   string
		counts map[alert.Status]int
		issues map[string][]alert.Issue
	)
	ctx := r.Context()
	err := c.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		if as, next, err = tx.ListAlerts(ctx, lq); err != nil {
			return err
		}
		if counts, err = tx.CountAlerts(ctx, lq, countUpTo); err != nil {
			return err
		}
		ids := make([]string, len(as))
		for i, a := range as {
			ids[i] = a.AlertID
		}
		issues, err = tx.IssuesOf(ctx, ids)
		return err
	})
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, "", "/", err)
		return
	}
	for _, a := range as {
		d.Rows = append(d.Rows, listRow{Alert: a, Issues: issues[a.AlertID]})
	}
	total, more := 0, false
	for _, st := range alert.Statuses {
		n := counts[st]
		total, more = total+min(n, countUpTo), more || n > countUpTo
		d.Counts = append(d.Counts, statusCount{Status: st, N: countText(min(n, countUpTo), n > countUpTo), URL: d.filterURL(map[string]string{"status": string(st)}), Current: d.Status == string(st)})
	}
	d.Total = countText(total, more)
	if next != "" {
		d.Next = d.filterURL(map[string]string{"cursor": next})
	}
	for _, dst := range c.cfg.Service.Destinations() {
		d.Destinations = append(d.Destinations, dst.Name)
	}
	for _, ru := range c.cfg.Rules() {
		d.Rules = append(d.Rules, ru.ID)
	}
	c.render(w, r, http.StatusOK, "list", layout{Title: "Alerts", Nav: "alerts"}, d)
}

func countText(n int, more bool) string {
	if more {
		return fmt.Sprintf("%d+", n)
	}
	return fmt.Sprint(n)
}

type deliveryRow struct {
	store.Delivery
	Error, Hint string
}

// splitHint separates the troubleshooting hint a Jira error carries
// (jira.Error writes it after " — ").
func splitHint(msg string) (string, string) {
	if e, h, ok := strings.Cut(msg, " — "); ok {
		return e, h
	}
	return msg, ""
}

type fieldSync struct {
	Field, Mode, State string
	InStep             bool
}

type issueRow struct {
	alert.Issue
	Fields     []fieldSync
	LastSynced time.Time
	LastDetail string
	Waiting    bool
}

type commentRow struct {
	alert.Comment
	HTML template.HTML
}

type alertData struct {
	A            *alert.Alert
	Context      string
	Issues       []issueRow
	Deliveries   []deliveryRow
	Timeline     []alert.Event
	Comments     []commentRow
	Statuses     []alert.Status
	Dispatchable []string
	Done         string
}

// markdown renders comments. goldmark without WithUnsafe leaves raw HTML
// out and drops javascript: and other dangerous link targets.
var markdown = goldmark.New()

func renderMarkdown(src string) template.HTML {
	var b bytes.Buffer
	if err := markdown.Convert([]byte(src), &b); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(b.String()) //nolint:gosec // goldmark's safe mode escaped it
}

func (c *Console) alertPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("alertId")
	if err := alert.CheckText(id); err != nil {
		c.problem(w, r, http.StatusNotFound, "No such alert.", "/", nil)
		return
	}
	ctx := r.Context()
	rec, err := c.cfg.Service.Get(ctx, id)
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, fmt.Sprintf("No alert with alertId %q.", id), "/", err)
		return
	}
	var (
		states   []store.SyncState
		outbound = map[string][]store.OutboundComment{}
	)
	err = c.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		if states, err = tx.SyncStates(ctx, id); err != nil {
			return err
		}
		for _, is := range rec.Issues {
			if outbound[is.Destination], err = tx.ListOutboundComments(ctx, id, is.Destination); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, "", "/", err)
		return
	}
	d := alertData{A: rec.Alert, Timeline: rec.Timeline, Statuses: alert.Statuses, Done: r.URL.Query().Get("done")}
	if len(rec.Alert.Context) > 0 {
		var b bytes.Buffer
		if json.Indent(&b, rec.Alert.Context, "", "  ") == nil {
			d.Context = b.String()
		}
	}
	for _, dl := range rec.Deliveries {
		e, h := splitHint(dl.LastError)
		d.Deliveries = append(d.Deliveries, deliveryRow{Delivery: dl, Error: e, Hint: h})
	}
	for _, cm := range rec.Comments {
		d.Comments = append(d.Comments, commentRow{Comment: cm, HTML: renderMarkdown(cm.Body)})
	}
	dests := map[string]Destination{}
	for _, x := range c.cfg.Destinations() {
		dests[x.Name] = x
	}
	for _, is := range rec.Issues {
		var st store.SyncState
		if i := slices.IndexFunc(states, func(s store.SyncState) bool { return s.Destination == is.Destination }); i >= 0 {
			st = states[i]
		}
		d.Issues = append(d.Issues, issueSync(rec.Alert, rec.Comments, rec.Timeline, is, st, outbound[is.Destination], dests[is.Destination]))
	}
	for _, x := range c.cfg.Service.Destinations() {
		if x.ManualDispatch {
			d.Dispatchable = append(d.Dispatchable, x.Name)
		}
	}
	c.render(w, r, http.StatusOK, "alert", layout{Title: rec.Alert.Title, Nav: "alerts"}, d)
}

// issueSync says, per synced field, where the issue stands against the
// alert: what was confirmed in Jira, and whether it is in step.
func issueSync(a *alert.Alert, comments []alert.Comment, timeline []alert.Event, is alert.Issue, st store.SyncState,
	out []store.OutboundComment, dest Destination) issueRow {
	row := issueRow{Issue: is, Waiting: st.Wanted > st.Done}
	mode := func(f string) string {
		if m := dest.Sync[f]; m != "" {
			return m
		}
		return "off"
	}
	status := fieldSync{Field: "status", Mode: mode("status")}
	switch {
	case st.StatusFor == "":
		status.State = fmt.Sprintf("Jira says %q; no alert status confirmed there yet", is.Status)
	default:
		status.State = fmt.Sprintf("Jira says %q, which stands for %s", is.Status, st.StatusFor)
		status.InStep = st.StatusFor == string(a.Status)
	}
	assignee := fieldSync{Field: "assignee", Mode: mode("assignee"), InStep: st.Assignee == a.Assignee}
	assignee.State = "confirmed on the issue: " + orNone(st.Assignee)
	var sent, queued int
	for _, o := range out {
		if o.CommentID == 0 {
			continue
		}
		queued++
		if o.JiraCommentID != "" {
			sent++
		}
	}
	var fromJira int
	for _, cm := range comments {
		if cm.Origin == is.Destination || cm.Origin == "jira:"+is.Destination {
			fromJira++
		}
	}
	cms := fieldSync{Field: "comments", Mode: mode("comments"), InStep: sent == queued,
		State: fmt.Sprintf("%d of %d sent to Jira; %d received from Jira", sent, queued, fromJira)}
	row.Fields = []fieldSync{status, assignee, cms}
	for i := len(timeline) - 1; i >= 0; i-- {
		if e := timeline[i]; e.Action == "jira_synced" && strings.HasPrefix(e.Detail, is.Key+": ") {
			row.LastSynced, row.LastDetail = e.At, strings.TrimPrefix(e.Detail, is.Key+": ")
			break
		}
	}
	return row
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

type destinationRow struct {
	Name, Type, Where string
	Health            string // healthy, failing, unknown
	LastSuccess       time.Time
	LastErrorAt       time.Time
	Error, Hint       string
	Severities        []string
	AlertTypes        []string
	LogTypes          []string
	ManualDispatch    bool
	Sync              []fieldSync
	StatusMap         [][2]string
	Test              *testResult
}

type testResult struct {
	AlertID     string
	State       string // sending, delivered, failed
	Attempts    int
	Error, Hint string
	Issue       *alert.Issue
}

func (c *Console) destinationsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	testID, testDest := r.URL.Query().Get("test"), r.URL.Query().Get("dest")
	var (
		health map[string]store.Health
		result *testResult
	)
	err := c.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		if health, err = tx.DestinationHealth(ctx); err != nil {
			return err
		}
		if testID == "" || alert.CheckText(testID) != nil {
			return nil
		}
		ds, err := tx.ListDeliveries(ctx, testID)
		if err != nil || len(ds) == 0 {
			return err
		}
		dl := ds[len(ds)-1]
		result = &testResult{AlertID: testID, Attempts: dl.Attempts}
		result.Error, result.Hint = splitHint(dl.LastError)
		switch dl.State {
		case store.DeliveryDelivered:
			result.State = "delivered"
			if is, err := tx.GetIssue(ctx, testID, dl.Destination); err == nil {
				result.Issue = is
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		case store.DeliveryFailed:
			result.State = "failed"
		default:
			result.State = "sending"
		}
		return nil
	})
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, "", "/destinations", err)
		return
	}
	extra := map[string]Destination{}
	for _, x := range c.cfg.Destinations() {
		extra[x.Name] = x
	}
	var rows []destinationRow
	refresh := 0
	for _, x := range c.cfg.Service.Destinations() {
		h, more := health[x.Name], extra[x.Name]
		row := destinationRow{Name: x.Name, Type: x.Type, Where: more.Where, LastSuccess: h.LastSuccess, LastErrorAt: h.LastErrorAt,
			ManualDispatch: x.ManualDispatch, Severities: names(x.Severities, alert.Severities), AlertTypes: names(x.AlertTypes, alert.Types), LogTypes: x.LogTypes}
		row.Error, row.Hint = splitHint(h.LastError)
		switch {
		case h.LastSuccess.IsZero() && h.LastErrorAt.IsZero():
			row.Health = "unknown"
		case h.LastErrorAt.After(h.LastSuccess):
			row.Health = "failing"
		default:
			row.Health = "healthy"
		}
		for _, f := range []string{"status", "assignee", "comments"} {
			if m := more.Sync[f]; m != "" {
				row.Sync = append(row.Sync, fieldSync{Field: f, Mode: m})
			}
		}
		for _, st := range alert.Statuses {
			if js, ok := more.StatusMap[st]; ok {
				row.StatusMap = append(row.StatusMap, [2]string{string(st), js})
			}
		}
		if result != nil && testDest == x.Name {
			row.Test = result
			if result.State == "sending" {
				refresh = 2
			}
		}
		rows = append(rows, row)
	}
	c.render(w, r, http.StatusOK, "destinations", layout{Title: "Destinations", Nav: "destinations", Refresh: refresh}, rows)
}

func names[T ~string](v, all []T) []string {
	if len(v) == 0 {
		v = all
	}
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = string(x)
	}
	return out
}

type ruleRow struct {
	Rule
	LastMatch *alert.Alert
	MatchedAt time.Time
	LastError *alert.Alert
}

func (c *Console) rulesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rules := c.cfg.Rules()
	rows := make([]ruleRow, len(rules))
	err := c.cfg.Store.View(ctx, func(tx store.Tx) error {
		for i, ru := range rules {
			rows[i].Rule = ru
			a, err := tx.LatestAlertOf(ctx, ru.ID, alert.TypeRule)
			switch {
			case err == nil:
				rows[i].LastMatch, rows[i].MatchedAt = a, a.CreatedAt
				if a.Detection != nil && !a.Detection.LastSeen.IsZero() {
					rows[i].MatchedAt = a.Detection.LastSeen
				}
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			a, err = tx.LatestAlertOf(ctx, ru.ID, alert.TypeRuleError)
			switch {
			case err == nil:
				rows[i].LastError = a
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, "", "/rules", err)
		return
	}
	c.render(w, r, http.StatusOK, "rules", layout{Title: "Rules", Nav: "rules"}, rows)
}

type sourceRow struct {
	Source
	Position   string
	SavedAt    time.Time
	KeyDays    int
	KeyWarning bool
}

func (c *Console) sourcesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sources := c.cfg.Sources()
	rows := make([]sourceRow, len(sources))
	now := c.cfg.Now()
	err := c.cfg.Store.View(ctx, func(tx store.Tx) error {
		for i, s := range sources {
			rows[i].Source = s
			v, at, err := tx.Checkpoint(ctx, s.Checkpoint)
			switch {
			case err == nil:
				if len(v) > 120 {
					v = v[:120] + "…"
				}
				rows[i].Position, rows[i].SavedAt = v, at
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			if !s.KeyExpires.IsZero() {
				rows[i].KeyDays = int(s.KeyExpires.Sub(now).Hours() / 24)
				rows[i].KeyWarning = rows[i].KeyDays < 14
			}
		}
		return nil
	})
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, "", "/sources", err)
		return
	}
	c.render(w, r, http.StatusOK, "sources", layout{Title: "Sources", Nav: "sources"}, rows)
}
