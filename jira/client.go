// Package jira is a thin client for the parts of the Jira REST API that
// alertbridge uses, on Jira Cloud (REST v3, Atlassian Document Format) and
// Jira Data Center (REST v2, wiki markup).
//
// The client makes one HTTP request per call and never retries or sleeps on
// its own: the caller's durable job decides, so a retry is never hidden from
// the job's accounting. A 429 closes the whole Site until its Retry-After has
// passed, and every request on that Site waits for it before being sent; then
// one request goes alone, and the rest follow once it is answered with
// anything but another 429.
package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Deployment is the kind of Jira a client talks to.
type Deployment string

const (
	DeploymentCloud      Deployment = "cloud"
	DeploymentDataCenter Deployment = "datacenter"
)

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds how much of a response is read: Jira's answers to our
// calls are small, and a runaway body must not exhaust memory.
const maxResponse = 32 << 20

// Config says how to reach one Jira.
type Config struct {
	BaseURL string
	// Deployment is cloud or datacenter; empty asks GET /rest/api/2/serverInfo
	// once and remembers the answer.
	Deployment Deployment
	AuthScheme string // "basic" (default) or "bearer"
	// User and Token: for basic, the e-mail (Cloud) or user name (DC) and the
	// API token or password; for bearer, Token is a DC personal access token.
	User, Token string
	HTTP        *http.Client
	Timeout     time.Duration // per request; default 30s
	// Site is shared by every client of one Jira site; nil gives the client
	// its own, unlimited except for the Retry-After gate.
	Site      *Site
	UserAgent string
	// Observer, when set, hears of every request sent and every window a
	// 429 opens.
	Observer Observer
	// Bulk lets CreateIssueBatched send creates that wait for the site at
	// the same time as one bulk create; off, each is a create of its own.
	Bulk bool
	// Senders bounds the requests carrying CreateIssueBatched's creates at
	// once (default 4); the site's concurrency still bounds all requests.
	Senders int
}

// Client calls one Jira. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    string
	siteKey string // the site as observers hear of it
	site    *Site
	hc      *http.Client

	mu  sync.Mutex // serialises detection, so it happens once
	dep Deployment

	batch *coalescer // nil: no bulk creates
}

// New returns a client for cfg. It does no I/O.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), siteKey: siteKey(cfg.BaseURL), site: cfg.Site, hc: cfg.HTTP, dep: cfg.Deployment}
	if c.site == nil {
		c.site = NewSite(0, 0)
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	c.site.serves(c.cfg.Timeout)
	if c.cfg.UserAgent == "" {
		c.cfg.UserAgent = "alertbridge"
	}
	if cfg.Bulk {
		c.batch = &coalescer{max: cfg.Senders}
		if c.batch.max <= 0 {
			c.batch.max = 4
		}
	}
	return c
}

// IssueRef identifies a created issue.
type IssueRef struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Self string `json:"self"`
}

// Issue is an issue with its fields left raw: their shapes differ between
// deployments (descriptions are ADF on Cloud v3, strings on DC) and custom
// fields are anything.
type Issue struct {
	ID     string                     `json:"id"`
	Key    string                     `json:"key"`
	Self   string                     `json:"self,omitempty"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// Field decodes one field into v; a missing or null field leaves v alone and
// reports false.
func (i *Issue) Field(name string, v any) (bool, error) {
	raw, ok := i.Fields[name]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("jira: issue %s field %s: %w", i.Key, name, err)
	}
	return true, nil
}

// User is a Jira user. Cloud identifies users by AccountID; Data Center by
// Name (the login) and Key.
type User struct {
	AccountID    string `json:"accountId,omitempty"`
	Name         string `json:"name,omitempty"`
	Key          string `json:"key,omitempty"`
	EmailAddress string `json:"emailAddress,omitempty"`
	DisplayName  string `json:"displayName,omitempty"`
}

// Transition is a move an issue can make in its workflow now.
type Transition struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	To   Status `json:"to"`
}

// Status is a workflow status; Category is Jira's status category key: new,
// indeterminate or done.
type Status struct {
	ID       string
	Name     string
	Category string
}

// UnmarshalJSON reads Jira's status, whose category is nested.
func (s *Status) UnmarshalJSON(b []byte) error {
	var v struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Status{ID: v.ID, Name: v.Name, Category: v.StatusCategory.Key}
	return nil
}

// MarshalJSON writes Jira's shape, so a Status round-trips.
func (s Status) MarshalJSON() ([]byte, error) {
	type cat struct {
		Key string `json:"key,omitempty"`
	}
	return json.Marshal(struct {
		ID             string `json:"id,omitempty"`
		Name           string `json:"name,omitempty"`
		StatusCategory *cat   `json:"statusCategory,omitempty"`
	}{s.ID, s.Name, &cat{s.Category}})
}

// Comment is an issue comment; Body is ADF on Cloud v3 and a wiki string on
// DC, left raw for the caller to decode.
type Comment struct {
	ID     string          `json:"id"`
	Author User            `json:"author"`
	Body   json.RawMessage `json:"body"`
}

// ServerInfo is GET /rest/api/2/serverInfo.
type ServerInfo struct {
	BaseURL        string `json:"baseUrl"`
	Version        string `json:"version"`
	DeploymentType string `json:"deploymentType"` // "Cloud" or "Server" (DC says Server)
	ServerTitle    string `json:"serverTitle"`
}

// BrowseURL is where a person sees the issue.
func (c *Client) BrowseURL(key string) string {
	return c.base + "/browse/" + url.PathEscape(key)
}

// Deployment returns the configured deployment, or detects it once from
// serverInfo and remembers it. A failed detection is not remembered.
func (c *Client) Deployment(ctx context.Context) (Deployment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dep != "" {
		return c.dep, nil
	}
	si, err := c.serverInfo(ctx)
	if err != nil {
		return "", fmt.Errorf("jira: detecting the deployment: %w", err)
	}
	switch {
	case strings.EqualFold(si.DeploymentType, "Cloud"):
		c.dep = DeploymentCloud
	case si.DeploymentType == "" && isCloudHost(si.BaseURL):
		// Atlassian's own documented example omits the field; a Cloud site
		// is still recognisable by its host.
		c.dep = DeploymentCloud
	default:
		// Data Center reports "Server" (and older Jira may omit the field).
		c.dep = DeploymentDataCenter
	}
	return c.dep, nil
}

func isCloudHost(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".atlassian.net") || strings.HasSuffix(h, ".jira.com")
}

// ServerInfo asks Jira about itself. It needs no deployment: the v2 path
// answers on both.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	return c.serverInfo(ctx)
}

func (c *Client) serverInfo(ctx context.Context) (*ServerInfo, error) {
	var si ServerInfo
	if err := c.do(ctx, call{kind: KindServerInfo, method: http.MethodGet, path: "/rest/api/2/serverInfo", out: &si, dep: c.cfg.Deployment}); err != nil {
		return nil, err
	}
	return &si, nil
}

// api returns the REST prefix for the deployment: v3 on Cloud, v2 on DC.
func (c *Client) api(ctx context.Context) (string, Deployment, error) {
	d, err := c.Deployment(ctx)
	if err != nil {
		return "", "", err
	}
	if d == DeploymentCloud {
		return "/rest/api/3", d, nil
	}
	return "/rest/api/2", d, nil
}

// call is one request.
type call struct {
	kind         RequestKind
	method, path string
	query        url.Values
	in, out      any
	project      string // for the 403 hint
	dep          Deployment
	// prepare, when set, runs once the site has let the request through
	// and may fill in what to send (a bulk create takes the creates that
	// queued meanwhile); false sends nothing.
	prepare func(*call) bool
	// detach sends the request under a context of its own (bounded by the
	// timeout): it carries the work of other callers, whose outcome must
	// not depend on the one that happened to send it.
	detach bool
}

// do sends one request through the site's gate and limits and decodes the
// answer. Transport errors come back wrapped (errors.As finds *url.Error);
// non-2xx answers come back as *Error.
func (c *Client) do(ctx context.Context, cl call) error {
	done, err := c.site.acquire(ctx, cl.kind == KindCreate || cl.kind == KindBulkCreate)
	if err != nil {
		return fmt.Errorf("jira: %s %s: waiting for the site: %w", cl.method, cl.path, err)
	}
	if cl.prepare != nil && !cl.prepare(&cl) {
		done(answer{unused: true})
		return nil
	}
	var body []byte
	if cl.in != nil {
		if body, err = json.Marshal(cl.in); err != nil {
			done(answer{unused: true})
			return fmt.Errorf("jira: %s %s: encoding the request: %w", cl.method, cl.path, err)
		}
	}
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	// Whatever happens below, the site must hear of it: the requests held
	// behind a probe wait for its answer, or for word that none came.
	var (
		ans  answer
		sent time.Time // zero until the request is handed to the transport
	)
	defer func() {
		closed := done(ans)
		if o := c.cfg.Observer; o != nil && !sent.IsZero() {
			o.Request(c.siteKey, cl.kind, ans.status, time.Since(sent))
			if ans.status == http.StatusTooManyRequests {
				o.RateLimited(c.siteKey, closed.opened, closed.added)
				if ro, ok := o.(ReasonObserver); ok {
					ro.RateLimitReason(c.siteKey, ans.reason)
				}
			}
		}
	}()

	// The timeout starts after queueing: time spent waiting for the site's
	// limits is not Jira being slow.
	if cl.detach {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		return fmt.Errorf("jira: %s %s: %w", cl.method, cl.path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	// Jira Cloud rejects state-changing requests from browsers without this;
	// harmless elsewhere.
	req.Header.Set("X-Atlassian-Token", "no-check")
	bearer := strings.EqualFold(c.cfg.AuthScheme, "bearer")
	switch {
	case bearer:
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	case c.cfg.User != "" || c.cfg.Token != "":
		req.SetBasicAuth(c.cfg.User, c.cfg.Token)
	}

	sent = time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error names the URL; ours carries no credentials (they are in
		// headers), so wrapping it is safe.
		return fmt.Errorf("jira: %s %s: %w", cl.method, cl.path, err)
	}
	defer resp.Body.Close()
	// The window is read from the headers at once: a 429 whose body fails to
	// arrive has still closed the site.
	now := c.site.now()
	ans.status = resp.StatusCode
	ans.nearLimit = strings.EqualFold(strings.TrimSpace(resp.Header.Get("X-RateLimit-NearLimit")), "true")
	if resp.StatusCode == http.StatusTooManyRequests {
		ans.until = now.Add(retryAfter(resp.Header, now))
		ans.reason = resp.Header.Get("RateLimit-Reason")
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("jira: %s %s: reading the %d answer: %w", cl.method, cl.path, resp.StatusCode, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := newError(reqInfo{method: cl.method, path: cl.path, project: cl.project, bearer: bearer, deployment: cl.dep}, resp, data, now)
		if cl.kind == KindBulkCreate && resp.StatusCode == http.StatusBadRequest {
			e.bulk = parseBulkError(data)
		}
		return e
	}
	if cl.out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, cl.out); err != nil {
			return fmt.Errorf("jira: %s %s: decoding the %d answer: %w", cl.method, cl.path, resp.StatusCode, err)
		}
	}
	return nil
}

// IsNotFound reports whether err is Jira's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func issuePath(prefix, key string, rest ...string) string {
	p := prefix + "/issue/" + url.PathEscape(key)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// Timeout is how long one request may take.
func (c *Client) Timeout() time.Duration { return c.cfg.Timeout }
