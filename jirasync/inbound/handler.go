package inbound

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/internal/apierror"
	"github.com/alertbridge/alertbridge/internal/hmacsig"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// Pattern is the route the handler serves.
const Pattern = "POST /webhooks/jira/{destination}"

// MaxBodyBytes bounds a webhook body; Jira's are tens of kilobytes.
const MaxBodyBytes = 1 << 20

// ReplayRetention is how long delivery identifiers are remembered: longer
// than Jira's retry schedule, so a retried delivery is still recognised.
const ReplayRetention = 7 * 24 * time.Hour

// ActionSyncSkipped is the timeline action for a change in Jira that could
// not be applied to the alert, with the reason as detail.
const ActionSyncSkipped = "sync_skipped"

// Directory is what the receiver asks Jira: who alertbridge is there (to
// ignore its own changes) and a user's e-mail (to match assignees).
// *jira.Client implements it.
type Directory interface {
	Myself(ctx context.Context) (*jira.User, error)
	UserByID(ctx context.Context, id string) (*jira.User, error)
}

// Destination is one Jira destination webhooks may arrive for.
type Destination struct {
	Name   string
	Secret string
	Sync   config.JiraSync
	Jira   Directory

	mu sync.Mutex
	me *jira.User // cached service account; only a success is cached
}

// Config configures the receiver.
type Config struct {
	Service      *lifecycle.Service
	Store        store.Store
	Destinations []*Destination
	Logger       *slog.Logger
	Now          func() time.Time
}

// Handler receives Jira webhooks at Pattern.
type Handler struct {
	cfg       Config
	dests     map[string]*Destination
	lastPrune atomic.Int64 // unix seconds
}

// New builds the receiver.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, dests: map[string]*Destination{}}
	for _, d := range cfg.Destinations {
		h.dests[d.Name] = d
	}
	return h
}

// errUnauthorized is the one answer for an unknown destination, one without
// two-way sync, and a missing or wrong signature: telling them apart would
// let anyone probe which destinations exist.
var errUnauthorized = &apierror.Error{Status: http.StatusUnauthorized, Code: "unauthorized",
	Message: "missing or invalid X-Hub-Signature for this destination, or the destination does not take Jira webhooks"}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, ok := h.dests[r.PathValue("destination")]
	if !ok || d.Secret == "" || !d.Sync.TwoWay() {
		apierror.Write(w, errUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apierror.Write(w, &apierror.Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large",
				Message: fmt.Sprintf("body exceeds %d bytes", MaxBodyBytes)})
			return
		}
		apierror.Write(w, &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "reading the body: " + err.Error()})
		return
	}
	if !hmacsig.Verify(d.Secret, body, r.Header.Get("X-Hub-Signature")) {
		apierror.Write(w, errUnauthorized)
		return
	}
	if err := h.handle(r.Context(), d, r.Header.Get("X-Atlassian-Webhook-Identifier"), body); err != nil {
		if !errors.As(err, new(*apierror.Error)) {
			h.cfg.Logger.Error("jira webhook failed", "destination", d.Name, "error", err)
		}
		apierror.Write(w, apierror.From(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) handle(ctx context.Context, d *Destination, ident string, body []byte) error {
	if err := alert.CheckText(ident); err != nil {
		// It is a key of the replay table, where PostgreSQL would refuse it.
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "X-Atlassian-Webhook-Identifier",
			Message: "X-Atlassian-Webhook-Identifier " + err.Error()}
	}
	// A delivery is marked seen only after it was applied, so one that
	// failed half-way is applied again when Jira retries it; applying is
	// idempotent (same status, same assignee and same comment change
	// nothing), which also covers two copies arriving at once.
	if ident != "" {
		var seen bool
		err := h.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
			seen, err = tx.JiraWebhookSeen(ctx, d.Name, ident)
			return err
		})
		if err != nil {
			return err
		}
		if seen {
			return nil
		}
	}
	ev, err := Parse(body)
	if err != nil {
		var pe *ParseError
		errors.As(err, &pe)
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: pe.Field, Message: err.Error()}
	}
	if err := h.apply(ctx, d, ev); err != nil {
		return err
	}
	if ident == "" {
		return nil
	}
	now := h.cfg.Now()
	return h.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.MarkJiraWebhook(ctx, d.Name, ident, now); err != nil {
			return err
		}
		// Pruning at most hourly keeps the table small without a job.
		last := h.lastPrune.Load()
		if now.Unix()-last >= 3600 && h.lastPrune.CompareAndSwap(last, now.Unix()) {
			if _, err := tx.PruneJiraWebhooks(ctx, now.Add(-ReplayRetention)); err != nil {
				return err
			}
		}
		return nil
	})
}

// myself is the destination's service account, asked once.
func (d *Destination) myself(ctx context.Context) (*jira.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.me != nil {
		return d.me, nil
	}
	me, err := d.Jira.Myself(ctx)
	if err != nil {
		return nil, &apierror.Error{Status: http.StatusServiceUnavailable, Code: "jira_unavailable",
			Message: fmt.Sprintf("cannot tell whether the change is alertbridge's own: asking Jira who alertbridge is failed: %v", err)}
	}
	d.me = me
	return me, nil
}

// sameUser compares Jira users by the strongest identity both have.
func sameUser(a, b *jira.User) bool {
	switch {
	case a == nil || b == nil:
		return false
	case a.AccountID != "" && b.AccountID != "":
		return a.AccountID == b.AccountID
	case a.Key != "" && b.Key != "":
		return strings.EqualFold(a.Key, b.Key)
	case a.Name != "" && b.Name != "":
		return strings.EqualFold(a.Name, b.Name)
	case a.EmailAddress != "" && b.EmailAddress != "":
		return strings.EqualFold(a.EmailAddress, b.EmailAddress)
	}
	return false
}

// Who names a Jira user for people: display name, else e-mail, else id.
func Who(u *jira.User) string {
	if u == nil {
		return "unknown Jira user"
	}
	for _, s := range []string{u.DisplayName, u.EmailAddress, u.Name, u.Key, u.AccountID} {
		if s != "" {
			return s
		}
	}
	return "unknown Jira user"
}

func (h *Handler) apply(ctx context.Context, d *Destination, ev *Event) error {
	if ev.Issue.Key == "" && ev.Issue.ID == "" {
		return nil // nothing to map to an alert (a project or user event)
	}
	var alertID string
	err := h.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		alertID, err = tx.AlertByIssue(ctx, d.Name, ev.Issue.Key, ev.Issue.ID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		// The webhook's JQL may be wider than our issues; not an error.
		h.cfg.Logger.Debug("jira webhook for an issue with no alert", "destination", d.Name, "issue", ev.Issue.Key)
		return nil
	}
	if err != nil {
		return err
	}
	me, err := d.myself(ctx)
	if err != nil {
		return err
	}
	if sameUser(ev.User, me) {
		return nil // alertbridge's own change coming back
	}
	switch {
	case ev.Comment != nil && isCommentEvent(ev):
		return h.applyComment(ctx, d, me, alertID, ev)
	case ev.Kind == EventIssueUpdated || (ev.Kind == "" && len(ev.Changes) > 0):
		return h.applyChanges(ctx, d, alertID, ev)
	}
	return nil
}

func isCommentEvent(ev *Event) bool {
	switch ev.Kind {
	case EventCommentCreated, EventCommentUpdated:
		return true
	case EventIssueUpdated:
		// Old payloads have no event type; a comment in them is a new or
		// edited one (deletions carry none).
		switch ev.IssueType {
		case "issue_commented", "issue_comment_edited", "":
			return true
		}
	}
	return false
}

func (h *Handler) applyComment(ctx context.Context, d *Destination, me *jira.User, alertID string, ev *Event) error {
	if d.Sync.Comments != config.SyncTwoWay || ev.Comment.ID == "" {
		return nil
	}
	c := ev.Comment
	author := c.Author
	if c.UpdateAuthor != nil && (ev.Kind == EventCommentUpdated || ev.IssueType == "issue_comment_edited") {
		author = c.UpdateAuthor
	}
	if sameUser(author, me) || sameUser(c.Author, me) {
		return nil
	}
	var origin string
	err := h.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
		_, _, origin, err = tx.CommentLink(ctx, d.Name, c.ID)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if origin == store.LinkOriginAlertbridge {
		return nil // our own comment, posted by the outbound sync
	}
	who := Who(author)
	body := fmt.Sprintf("[%s] commented on Jira:\n\n%s", who, c.Markdown)
	_, err = h.cfg.Service.CommentFrom(ctx, alertID, "jira:"+who, body, d.Name, c.ID)
	if errors.Is(err, lifecycle.ErrCommentLinked) {
		// The comment is already another alert's (its issue moved, or a
		// replay came for the wrong issue). A retry cannot change that, and
		// Jira Cloud retries 408, 409, 425, 429 and 5xx, so a 409 would
		// bring the same delivery back to fail again: the answer is a 204
		// that records nothing, with a warning for people.
		h.cfg.Logger.Warn("jira comment is linked to another alert; not applied", "destination", d.Name,
			"comment", c.ID, "alert", alertID, "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply Jira comment %s to alert %s: %w", c.ID, alertID, err)
	}
	return nil
}

func (h *Handler) applyChanges(ctx context.Context, d *Destination, alertID string, ev *Event) error {
	var (
		p       = lifecycle.Patch{Actor: "jira:" + Who(ev.User), Origin: d.Name}
		skipped []string
	)
	changes := ev.Changes
	// Some issue_assigned payloads come with an empty changelog; the
	// issue's assignee is then the change.
	if ev.IssueType == "issue_assigned" && !slices.ContainsFunc(changes, func(c Change) bool { return c.Is("assignee") }) && ev.Issue.Assignee != nil {
		a := ev.Issue.Assignee
		changes = append(slices.Clip(changes), Change{Field: "assignee", To: cmp.Or(a.AccountID, a.Key, a.Name), ToString: Who(a)})
	}
	for _, ch := range changes {
		if ch.Is("status") {
			// What Jira says of its issue is recorded as the alert's view
			// of it, whether or not the alert follows.
			p.IssueStatus = ch.ToString
		}
		switch {
		case ch.Is("status") && d.Sync.Status == config.SyncTwoWay:
			st, ok := h.mapStatus(ctx, d, alertID, ev, ch)
			if !ok {
				skipped = append(skipped, fmt.Sprintf("Jira status %q maps to no alert status (not in status_map, no status category)", ch.ToString))
				continue
			}
			p.Status = &st
		case ch.Is("assignee") && d.Sync.Assignee == config.SyncTwoWay:
			email, err := h.assigneeEmail(ctx, d, ev, ch)
			if err != nil {
				return err
			}
			if email == "" && ch.To != "" {
				skipped = append(skipped, fmt.Sprintf("Jira assignee %q has no visible e-mail to match", ch.ToString))
				continue
			}
			p.Assignee = &email
		}
	}
	if p.Status != nil || p.Assignee != nil || p.IssueStatus != "" {
		if _, err := h.cfg.Service.Update(ctx, alertID, p); err != nil {
			return fmt.Errorf("apply Jira change to alert %s: %w", alertID, err)
		}
	}
	if len(skipped) == 0 {
		return nil
	}
	now := h.cfg.Now().UTC()
	return h.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.LockAlert(ctx, alertID); err != nil {
			return err
		}
		for _, s := range skipped {
			if err := tx.AddEvent(ctx, alertID, alert.Event{At: now, Actor: p.Actor, Action: ActionSyncSkipped, Detail: s}); err != nil {
				return err
			}
		}
		return nil
	})
}

// mapStatus turns a status change into the alert's status; the alert's
// current status wins among several that map to the same Jira status.
func (h *Handler) mapStatus(ctx context.Context, d *Destination, alertID string, ev *Event, ch Change) (alert.Status, bool) {
	var current alert.Status
	_ = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		a, err := tx.GetAlert(ctx, alertID)
		if err == nil {
			current = a.Status
		}
		return err
	})
	category := ""
	// The issue's category describes the change's target only when the
	// issue's status is that target (a later change may have moved it on).
	if ev.Issue.StatusCategory != "" && (ev.Issue.StatusID == ch.To || strings.EqualFold(ev.Issue.StatusName, ch.ToString)) {
		category = ev.Issue.StatusCategory
	}
	return ReverseStatus(d.Sync.StatusMap, ch.To, ch.ToString, category, current)
}

// ReverseStatus maps a Jira status (id and name) back to an alert status
// through status_map; when several alert statuses map to it, current is
// kept if it is one of them, else the first in workflow order. Unmapped
// statuses fall back to the status category: new → OPEN, indeterminate →
// TRIAGED, done → RESOLVED (or CLOSED when the alert is already closed).
func ReverseStatus(m map[alert.Status]string, id, name, category string, current alert.Status) (alert.Status, bool) {
	var candidates []alert.Status
	for _, st := range alert.Statuses {
		v, ok := m[st]
		if ok && ((name != "" && strings.EqualFold(v, name)) || (id != "" && v == id)) {
			candidates = append(candidates, st)
		}
	}
	for _, st := range candidates {
		if st == current {
			return st, true
		}
	}
	if len(candidates) > 0 {
		return candidates[0], true
	}
	switch category {
	case "new":
		return alert.StatusOpen, true
	case "indeterminate":
		return alert.StatusTriaged, true
	case "done":
		if current == alert.StatusClosed {
			return current, true
		}
		return alert.StatusResolved, true
	}
	return "", false
}

// assigneeEmail finds the new assignee's e-mail: from the issue's fields
// when they describe the same user, else by asking Jira. "" with a nil
// error means the user has no visible e-mail (Cloud hides most).
func (h *Handler) assigneeEmail(ctx context.Context, d *Destination, ev *Event, ch Change) (string, error) {
	if ch.To == "" {
		return "", nil // unassigned
	}
	// The issue's fields are its state after the change. They describe the
	// new assignee when an id matches, or when To is a legacy user name the
	// fields cannot be compared with (Cloud users without name and key).
	if a := ev.Issue.Assignee; a != nil && a.EmailAddress != "" &&
		(a.AccountID == ch.To || a.Key == ch.To || a.Name == ch.To || (a.Key == "" && a.Name == "" && ch.To != a.AccountID && !looksLikeAccountID(ch.To))) {
		return a.EmailAddress, nil
	}
	u, err := d.Jira.UserByID(ctx, ch.To)
	if err != nil {
		if jira.IsNotFound(err) {
			return "", nil
		}
		var je *jira.Error
		if errors.As(err, &je) && je.Status < 500 && je.Status != http.StatusTooManyRequests {
			// Jira refuses to say (no Browse users permission): record it
			// rather than make Jira retry a delivery that will fail again.
			h.cfg.Logger.Warn("jira user lookup refused", "destination", d.Name, "status", je.Status)
			return "", nil
		}
		return "", &apierror.Error{Status: http.StatusServiceUnavailable, Code: "jira_unavailable",
			Message: fmt.Sprintf("looking up the new assignee in Jira failed: %v", err)}
	}
	return u.EmailAddress, nil
}

// looksLikeAccountID tells a Cloud account id ("557058:…", or 24 hex
// digits) from a legacy user name.
func looksLikeAccountID(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	if len(s) != 24 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
