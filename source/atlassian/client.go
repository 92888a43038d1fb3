// Package atlassian polls an Atlassian organization's audit log through the
// Admin API and feeds its events to the detection rules as log type
// Atlassian.Audit, checkpointing its position in the database.
package atlassian

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/alertbridge/alertbridge/internal/redact"
	"github.com/alertbridge/alertbridge/internal/retryafter"
)

// Endpoints the source can read.
const (
	EndpointEventsStream = "events-stream"
	EndpointEvents       = "events"
)

// page is one answer of either endpoint: events-stream puts its cursor in
// meta.next (null on the last page), the older /events in links.next.
type page struct {
	Data  []map[string]any `json:"data"`
	Links struct {
		Next *string `json:"next"`
	} `json:"links"`
	Meta struct {
		Next *string `json:"next"`
	} `json:"meta"`
}

// client is a thin Admin API client: one GET at a time, inside Atlassian's
// request budget, retrying what is worth retrying.
type client struct {
	http     *http.Client
	base     string
	orgID    string
	apiKey   string
	endpoint string
	limiter  *rate.Limiter
	retries  int
	backoff  time.Duration // first wait after a 5xx or a network error
}

// statusError is an answer the client will not retry.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("Atlassian Admin API answered %d: %s", e.Status, e.Body)
}

// errBadCursor: the API refused a cursor (expired, or from another window).
var errBadCursor = errors.New("cursor refused")

// fetch reads one page: the first of the window [from, to] when cursor is
// empty, else the page the cursor names.
func (c *client) fetch(ctx context.Context, from, to time.Time, cursor string) (*page, string, error) {
	u := fmt.Sprintf("%s/admin/v1/orgs/%s/%s", c.base, url.PathEscape(c.orgID), c.endpoint)
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if cursor == "" || c.endpoint == EndpointEvents {
		// /events wants the window with every page; events-stream's cursor
		// carries it.
		q.Set("from", strconv.FormatInt(from.UnixMilli(), 10))
		q.Set("to", strconv.FormatInt(to.UnixMilli(), 10))
	}
	if c.endpoint == EndpointEventsStream {
		q.Set("sortOrder", "asc")
	}
	u += "?" + q.Encode()

	wait := c.backoff
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, "", fmt.Errorf("GET %s: %w", c.endpoint, err)
		}
		p, retryAfter, err := c.get(ctx, u)
		if err == nil {
			next := ""
			switch {
			case c.endpoint == EndpointEventsStream && p.Meta.Next != nil:
				next = *p.Meta.Next
			case c.endpoint == EndpointEvents && p.Links.Next != nil:
				next = cursorOf(*p.Links.Next)
			}
			return p, next, nil
		}
		var se *statusError
		if errors.As(err, &se) && se.Status == http.StatusBadRequest && cursor != "" {
			return nil, "", fmt.Errorf("GET %s: %w: %v", c.endpoint, errBadCursor, err)
		}
		if retryAfter < 0 || attempt >= c.retries {
			return nil, "", fmt.Errorf("GET %s (attempt %d): %w", c.endpoint, attempt, err)
		}
		d := retryAfter
		if d == 0 {
			// Full jitter keeps replicas and sources from retrying in step.
			d = wait/2 + rand.N(wait/2+1)
			wait = min(2*wait, time.Minute)
		}
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("GET %s: %w", c.endpoint, ctx.Err())
		case <-time.After(d):
		}
	}
}

// get makes one request. retryAfter is how long to wait before trying
// again: >0 as the server asked, 0 for the client's backoff, <0 never.
func (c *client) get(ctx context.Context, u string) (p *page, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, -1, err
	}
	// The key goes only into this header: never into the URL, a log or an error.
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, -1, ctx.Err()
		}
		return nil, 0, redactURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		p = &page{}
		if err := json.Unmarshal(body, p); err != nil {
			return nil, -1, fmt.Errorf("decode answer: %w", err)
		}
		return p, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, retryAfterOf(resp.Header.Get("Retry-After")), &statusError{resp.StatusCode, snippet(body)}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return nil, 0, &statusError{resp.StatusCode, snippet(body)}
	}
	return nil, -1, &statusError{resp.StatusCode, snippet(body)}
}

// retryAfterOf reads Retry-After (seconds or an HTTP date), bounded by
// retryafter.Max; without one, half a minute: the budget is per minute.
func retryAfterOf(h string) time.Duration {
	if d, ok := retryafter.Parse(h, time.Now()); ok {
		// The floor is not a bound on the server's wish: fetch reads 0 as
		// "no advice, use the backoff", and this 429 did give advice.
		return max(retryafter.Bound(d), time.Second)
	}
	return 30 * time.Second
}

// cursorOf takes the cursor out of /events' links.next, which is a URL in
// some answers and the bare cursor in others.
func cursorOf(next string) string {
	if u, err := url.Parse(next); err == nil && u.Scheme != "" {
		if c := u.Query().Get("cursor"); c != "" {
			return c
		}
	}
	return next
}

func snippet(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// redactURLError redacts the URL a transport error names: the key is in a
// header, but a configured base_url may carry credentials of its own.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redact.URL(ue.URL), Err: ue.Err}
	}
	return err
}
