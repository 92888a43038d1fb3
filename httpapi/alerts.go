package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/ingest"
	"github.com/alertbridge/alertbridge/internal/apierror"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// readBody reads a JSON request body, answering 413 past the limit.
func readBody(r *http.Request) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &apierror.Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	}
	if err != nil {
		return nil, &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "cannot read request body: " + err.Error()}
	}
	return body, nil
}

func fromIngest(err error) error {
	var fe *ingest.FieldError
	if errors.As(err, &fe) {
		code := "invalid_field"
		if fe.Field == "" {
			code = "invalid_json"
		}
		return &apierror.Error{Status: http.StatusBadRequest, Code: code, Field: fe.Field, Message: fe.Message}
	}
	return err
}

// endpointOf names an ingest endpoint for the metrics; "" for other paths.
func endpointOf(r *http.Request) string {
	switch r.URL.Path {
	case "/api/v1/alerts":
		return "alerts"
	case "/api/v1/alerts/alertmanager":
		return "alertmanager"
	case "/api/v1/alerts/grafana":
		return "grafana"
	}
	return ""
}

func (s *Server) postAlert(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	body, err := readBody(r)
	if err != nil {
		return err
	}
	a, err := ingest.Panther(body, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return fromIngest(err)
	}
	for i, name := range a.Destinations {
		if !s.hasDestination(name) {
			return badField(fmt.Sprintf("destinations[%d]", i), fmt.Sprintf("unknown destination %q", name))
		}
	}
	res, err := s.cfg.Service.Ingest(r.Context(), []lifecycle.Item{{Alert: a, Actor: "token:" + tokenName(r.Context())}})
	if err != nil {
		return s.ingestFailed(err)
	}
	status, result := http.StatusAccepted, "accepted"
	if res[0].Duplicate {
		status, result = http.StatusOK, "duplicate"
	}
	s.metrics.ingest.WithLabelValues("alerts", result).Inc()
	s.metrics.ingestSeconds.WithLabelValues("alerts").Observe(time.Since(start).Seconds())
	writeJSON(w, status, map[string]any{"alertId": a.AlertID, "duplicate": res[0].Duplicate, "destinations": orEmpty(res[0].Destinations)})
	return nil
}

func (s *Server) postAlertmanager(w http.ResponseWriter, r *http.Request) error {
	return s.postNotification(w, r, "alertmanager", ingest.Alertmanager)
}

func (s *Server) postGrafana(w http.ResponseWriter, r *http.Request) error {
	return s.postNotification(w, r, "grafana", ingest.Grafana)
}

// postNotification accepts an Alertmanager-shaped notification whole: its
// alerts commit in one transaction, so the sender's retry of a failed
// notification never finds half of it stored.
func (s *Server) postNotification(w http.ResponseWriter, r *http.Request, endpoint string,
	parse func([]byte, time.Time) (*ingest.Notification, error)) error {
	start := time.Now()
	body, err := readBody(r)
	if err != nil {
		return err
	}
	n, err := parse(body, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return fromIngest(err)
	}
	var truncated string
	if n.Truncated > 0 {
		truncated = fmt.Sprintf("%s left %d alerts out of this notification of group %s", n.Sender, n.Truncated, n.GroupKey)
		s.metrics.truncated.WithLabelValues(endpoint).Add(float64(n.Truncated))
		s.cfg.Logger.Warn(n.Sender+" left alerts out of a notification (max_alerts); those alerts are not stored",
			"endpoint", endpoint, "truncated_alerts", n.Truncated, "alerts", len(n.Notices), "group_key", n.GroupKey, "receiver", n.Receiver)
	}
	group := lifecycle.GroupOf(n)
	items := make([]lifecycle.Item, len(n.Notices))
	for i, x := range n.Notices {
		items[i] = lifecycle.Item{Alert: x.Alert, Resolved: x.Resolved, Actor: endpoint, Truncated: truncated, Group: group}
	}
	res, err := s.cfg.Service.Ingest(r.Context(), items)
	if err != nil {
		return s.ingestFailed(err)
	}
	out := make([]map[string]any, len(res))
	for i, x := range res {
		result := "accepted"
		if x.Duplicate {
			result = "duplicate"
		}
		s.metrics.ingest.WithLabelValues(endpoint, result).Inc()
		out[i] = map[string]any{"alertId": x.AlertID, "duplicate": x.Duplicate, "resolved": x.Resolved, "reopened": x.Reopened}
	}
	s.metrics.ingestSeconds.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	writeJSON(w, http.StatusAccepted, map[string]any{"alerts": out, "truncatedAlerts": n.Truncated})
	return nil
}

func (s *Server) ingestFailed(err error) error {
	if errors.Is(err, lifecycle.ErrClosed) {
		return &apierror.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "shutting down; retry against another replica or later"}
	}
	return fmt.Errorf("ingest: %w", err)
}

func (s *Server) hasDestination(name string) bool {
	for _, d := range s.cfg.Service.Destinations() {
		if d.Name == name {
			return true
		}
	}
	return false
}

func orEmpty(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// alertView is an alert as the API returns it.
type alertView struct {
	*alert.Alert
	// Assignee shadows the alert's own field, which omits an empty value:
	// the contract promises the key on every alert, assigned or not.
	Assignee   string           `json:"assignee"`
	Comments   []alert.Comment  `json:"comments"`
	Issues     []alert.Issue    `json:"issues"`
	Deliveries []store.Delivery `json:"deliveries"`
	Timeline   []alert.Event    `json:"timeline"`
}

func viewOf(r *lifecycle.Record) alertView {
	return alertView{Alert: r.Alert, Assignee: r.Alert.Assignee, Comments: r.Comments, Issues: r.Issues, Deliveries: r.Deliveries, Timeline: r.Timeline}
}

// pathText is a path value checked as text alertbridge can store: the
// router decodes %00 and %C0%80 into the bytes themselves, which PostgreSQL
// refuses even in a lookup, so an alertId no alert can have would otherwise
// be a 500 there and a 404 on SQLite.
func pathText(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if err := alert.CheckText(v); err != nil {
		return "", badField(name, err.Error())
	}
	return v, nil
}

// checkText is alert.CheckText for one field of a request body.
func checkText(field, v string) error {
	if err := alert.CheckText(v); err != nil {
		return badField(field, err.Error())
	}
	return nil
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) error {
	id, err := pathText(r, "alertId")
	if err != nil {
		return err
	}
	rec, err := s.cfg.Service.Get(r.Context(), id)
	if err != nil {
		return alertErr(err, r)
	}
	writeJSON(w, http.StatusOK, viewOf(rec))
	return nil
}

func alertErr(err error, r *http.Request) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(fmt.Sprintf("no alert with alertId %q", r.PathValue("alertId")))
	}
	return err
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	q := store.ListQuery{Limit: 50}
	v := r.URL.Query()
	for key := range v {
		switch key {
		case "status", "severity", "limit", "cursor", "test":
		default:
			return badField(key, "unknown query parameter; want status, severity, limit, cursor or test")
		}
	}
	switch v.Get("test") {
	case "", "false":
	case "true":
		q.IncludeTest = true
	default:
		return badField("test", "want true or false")
	}
	if x := v.Get("status"); x != "" {
		st, err := alert.ParseStatus(x)
		if err != nil {
			return badField("status", err.Error())
		}
		q.Status = st
	}
	if x := v.Get("severity"); x != "" {
		sev, err := alert.ParseSeverity(x)
		if err != nil {
			return badField("severity", err.Error())
		}
		q.Severity = sev
	}
	if x := v.Get("limit"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > 500 {
			return badField("limit", "must be a whole number from 1 to 500")
		}
		q.Limit = n
	}
	if x := v.Get("cursor"); x != "" {
		if _, err := store.DecodeCursor(x); err != nil {
			return badField("cursor", "malformed cursor; pass the next value of a previous answer")
		}
		q.Cursor = x
	}
	as, next, err := s.cfg.Service.List(r.Context(), q)
	if err != nil {
		return err
	}
	// The list's alerts carry the same keys as a single alert's answer.
	type listed struct {
		*alert.Alert
		Assignee string `json:"assignee"`
	}
	out := make([]listed, len(as))
	for i, a := range as {
		out[i] = listed{Alert: a, Assignee: a.Assignee}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out, "next": next})
	return nil
}

// decodeStrict reads a small JSON request object, naming unknown fields.
func decodeStrict(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	// As for ingest: encoding/json would quietly store U+FFFD for the bytes.
	if !utf8.Valid(body) {
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ):
			return badField(typ.Field, "wrong type: "+typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badField(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		}
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "malformed JSON: " + err.Error()}
	}
	if dec.More() {
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "unexpected data after the JSON object"}
	}
	return nil
}

func checkPerson(field, v string) error {
	if err := checkText(field, v); err != nil {
		return err
	}
	if len(v) > 256 || strings.ContainsFunc(v, unicode.IsControl) {
		return badField(field, "must be at most 256 characters without control characters")
	}
	return nil
}

func (s *Server) patchAlert(w http.ResponseWriter, r *http.Request) error {
	id, err := pathText(r, "alertId")
	if err != nil {
		return err
	}
	var body struct {
		Status   *string `json:"status"`
		Assignee *string `json:"assignee"`
		Actor    *string `json:"actor"`
	}
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	actor, err := s.actor(r, "actor", body.Actor)
	if err != nil {
		return err
	}
	p := lifecycle.Patch{Actor: actor, Assignee: body.Assignee}
	if body.Status == nil && body.Assignee == nil {
		return badField("", "nothing to change: give status, assignee or both")
	}
	if body.Status != nil {
		st, err := alert.ParseStatus(*body.Status)
		if err != nil {
			return badField("status", err.Error())
		}
		p.Status = &st
	}
	if body.Assignee != nil {
		if err := checkPerson("assignee", *body.Assignee); err != nil {
			return err
		}
	}
	if err := checkPerson("actor", p.Actor); err != nil {
		return err
	}
	rec, err := s.cfg.Service.Update(r.Context(), id, p)
	if err != nil {
		return alertErr(err, r)
	}
	writeJSON(w, http.StatusOK, viewOf(rec))
	return nil
}

// actor is who made a change: the token, or the person a token with the
// act_as scope names in field; naming someone without it is a 403.
func (s *Server) actor(r *http.Request, field string, given *string) (string, error) {
	p, _ := auth.FromContext(r.Context())
	var name string
	if given != nil {
		name = *given
	}
	actor, err := p.Actor(name)
	var missing *auth.MissingScopeError
	if errors.As(err, &missing) {
		return "", scopeError(missing, field)
	}
	return actor, err
}

// MaxCommentBytes is Jira's comment limit, so a comment always fits there.
const MaxCommentBytes = 32767

func (s *Server) postComment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathText(r, "alertId")
	if err != nil {
		return err
	}
	var body struct {
		Body   *string `json:"body"`
		Author *string `json:"author"`
	}
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	if body.Body == nil || strings.TrimSpace(*body.Body) == "" {
		return badField("body", "required")
	}
	if len(*body.Body) > MaxCommentBytes {
		return badField("body", fmt.Sprintf("longer than %d bytes", MaxCommentBytes))
	}
	if err := checkText("body", *body.Body); err != nil {
		return err
	}
	author, err := s.actor(r, "author", body.Author)
	if err != nil {
		return err
	}
	if err := checkPerson("author", author); err != nil {
		return err
	}
	c, err := s.cfg.Service.Comment(r.Context(), id, author, *body.Body)
	if err != nil {
		return alertErr(err, r)
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathText(r, "alertId")
	if err != nil {
		return err
	}
	var body struct {
		Destination *string `json:"destination"`
		Actor       *string `json:"actor"`
	}
	if err := decodeStrict(r, &body); err != nil {
		return err
	}
	if body.Destination == nil || *body.Destination == "" {
		return badField("destination", "required")
	}
	// The actor goes on the timeline as patch's and comment's do, so it is
	// held to the same rule.
	actor, err := s.actor(r, "actor", body.Actor)
	if err != nil {
		return err
	}
	if err := checkPerson("actor", actor); err != nil {
		return err
	}
	d, err := s.cfg.Service.Dispatch(r.Context(), id, *body.Destination, actor)
	switch {
	case errors.Is(err, lifecycle.ErrUnknownDest):
		return badField("destination", err.Error())
	case errors.Is(err, lifecycle.ErrDispatchForbidden):
		return &apierror.Error{Status: http.StatusForbidden, Code: "forbidden", Field: "destination", Message: err.Error()}
	case err != nil:
		return alertErr(err, r)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"alertId": d.AlertID, "destination": d.Destination, "deliveryId": d.ID})
	return nil
}
