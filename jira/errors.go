package jira

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/internal/retryafter"
)

// Error is a response from Jira other than a success. It carries what Jira
// said and a hint a person can act on; it never carries credentials.
type Error struct {
	Status     int
	Method     string
	Path       string            // request path without the query
	Messages   []string          // Jira's errorMessages
	Fields     map[string]string // Jira's errors: field id → message
	RetryAfter time.Duration     // for 429: how long the site is closed
	Hint       string            // what to do about it

	bulk *bulkAnswer // a bulk create's 400: the element errors it lists
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jira: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, "; "))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
	}
	if e.Status == http.StatusTooManyRequests && e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Hint != "" {
		b.WriteString(" — ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Temporary reports whether trying again later may succeed: rate limiting and
// server-side failures. Everything else needs a person to change something.
func (e *Error) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// errorBody is Jira's error JSON, shared by v2 and v3 and both deployments.
type errorBody struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
	// Some Cloud gateways (rate limiting, auth) answer {"message": ...}.
	Message string `json:"message"`
}

// defaultRetryAfter is used when a 429 names no time. It can be short: after
// the window one request goes alone to ask (see Site), so a guess that is too
// short costs one more 429, not a burst of them.
const defaultRetryAfter = time.Second

// reqInfo is what the client knew about a request, for hints.
type reqInfo struct {
	method, path string
	project      string // project key of a create, when known
	bearer       bool
	deployment   Deployment
}

func newError(ri reqInfo, resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{Status: resp.StatusCode, Method: ri.method, Path: ri.path}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Messages = eb.ErrorMessages
		if len(eb.Errors) > 0 {
			e.Fields = eb.Errors
		}
		if eb.Message != "" && len(e.Messages) == 0 {
			e.Messages = []string{eb.Message}
		}
	}
	if len(e.Messages) == 0 && len(e.Fields) == 0 {
		// Proxies and some Jira errors answer HTML or plain text; keep a
		// short, single-line excerpt so the cause is not lost.
		if s := excerpt(body); s != "" && !strings.HasPrefix(s, "<") {
			e.Messages = []string{s}
		}
	}
	if e.Status == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header, now)
	}
	e.Hint = hint(ri, e)
	return e
}

func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// retryAfter reads Retry-After (seconds or an HTTP date), else
// X-RateLimit-Reset (an ISO 8601 time, or epoch seconds), else a default.
// Either header is bounded by retryafter.Max: it closes the whole Site.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := retryafter.Parse(h.Get("Retry-After"), now); ok {
		return retryafter.Bound(d)
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.000Z0700"} {
			if t, err := time.Parse(layout, v); err == nil {
				return retryafter.Bound(t.Sub(now))
			}
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 1e9 {
			return retryafter.Bound(time.Unix(n, 0).Sub(now))
		}
	}
	return defaultRetryAfter
}

func hint(ri reqInfo, e *Error) string {
	switch e.Status {
	case http.StatusBadRequest:
		return badRequestHint(e)
	case http.StatusUnauthorized:
		if ri.bearer {
			return "verify the personal access token"
		}
		if ri.deployment == DeploymentDataCenter {
			return "verify the user name and password (or API token)"
		}
		return "verify the e-mail and API token"
	case http.StatusForbidden:
		if ri.project != "" {
			return fmt.Sprintf("the user lacks Create Issues permission in project %s", ri.project)
		}
		return "the user lacks permission for this operation in the project (browse, edit, transition, comment or assign issues)"
	case http.StatusNotFound:
		return "verify the instance URL and project key"
	case http.StatusTooManyRequests:
		return "Jira is rate limiting this site; requests to it wait until the Retry-After time"
	case http.StatusGone:
		return "this Jira API was removed; upgrade alertbridge"
	}
	if e.Status >= 500 {
		return "Jira failed on its side; try again later"
	}
	return ""
}

// badRequestHint recognises Jira's messages for the mistakes a configuration
// makes: a field missing from the create screen, an unknown priority or issue
// type, an unknown project.
func badRequestHint(e *Error) string {
	var hints []string
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		msg := strings.ToLower(e.Fields[k])
		switch {
		case strings.Contains(msg, "cannot be set") || strings.Contains(msg, "not on the appropriate screen"):
			hints = append(hints, fmt.Sprintf("field %s is not on the create screen for this project and issue type: add it to the screen or remove it from the configuration", k))
		case k == "priority":
			hints = append(hints, "unknown priority: use a priority name that exists in Jira (check the priority map)")
		case k == "issuetype":
			hints = append(hints, "unknown issue type: use an issue type the project has (issue_type)")
		case k == "project" || k == "pid":
			hints = append(hints, "unknown project: verify the project key")
		case k == "labels":
			hints = append(hints, "labels may not contain spaces")
		case k == "summary" && strings.Contains(msg, "255"):
			hints = append(hints, "the summary is longer than 255 characters")
		}
	}
	for _, m := range e.Messages {
		lm := strings.ToLower(m)
		if strings.Contains(lm, "is required") {
			hints = append(hints, "Jira requires a field the request did not set: set it through custom_fields or make it optional in Jira")
			break
		}
	}
	if len(hints) == 0 {
		return "Jira rejected the request; see its messages above"
	}
	return strings.Join(hints, "; ")
}
