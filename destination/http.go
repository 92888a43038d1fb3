package destination

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/internal/retryafter"
)

// ClassifyHTTP decides what a plain HTTP endpoint's answer means for a
// delivery: 2xx is done; 429 waits as Retry-After says; 408 and 5xx retry;
// any other 4xx will not get better by retrying. what names the endpoint
// in the error; snippet is the start of the answer's body.
func ClassifyHTTP(what string, resp *http.Response, snippet []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("%s answered %d: %s", what, code, strings.TrimSpace(string(snippet)))
	switch {
	case code == http.StatusTooManyRequests:
		return RetryAfter(err, RetryAfterHeader(resp.Header, time.Now(), 30*time.Second))
	case code == http.StatusRequestTimeout || code >= 500:
		return err
	default:
		return Permanent(err)
	}
}

// RetryAfterHeader reads a Retry-After header (seconds or an HTTP date),
// bounded by retryafter.Max like every other client's, or returns def.
func RetryAfterHeader(h http.Header, now time.Time, def time.Duration) time.Duration {
	d, ok := retryafter.Parse(h.Get("Retry-After"), now)
	if !ok {
		return def
	}
	return retryafter.Bound(d)
}

// Transport is an HTTP transport for a destination's client. Deliveries run
// in parallel, so it keeps as many idle connections per host as there are
// delivery workers; the default of two would close and redial most of them.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.MaxIdleConns = 256
	return t
}

// PostJSON posts body as JSON with the given extra headers, then reads the
// start of the answer (for errors) and drains the rest, so the connection
// goes back to the pool. The caller classifies the answer (ClassifyHTTP).
func PostJSON(ctx context.Context, c *http.Client, url string, body []byte, h http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, Permanent(fmt.Errorf("build request: invalid URL"))
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "alertbridge")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp, snippet, nil
}
