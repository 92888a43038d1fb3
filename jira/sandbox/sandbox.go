package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alertbridge/alertbridge/jira"
)

// maxBody bounds a request body: Jira refuses far smaller ones, and the
// sandbox must not be a memory sink when exposed for trying things out.
const maxBody = 10 << 20

// Sandbox is an in-memory Jira; it is an http.Handler.
type Sandbox struct {
	opts     Options
	cloud    bool
	mux      *http.ServeMux
	workflow *Workflow

	srv *http.Server
	ln  net.Listener

	mu         sync.Mutex
	baseURL    string
	issues     []*StoredIssue
	byKey      map[string]*StoredIssue
	byID       map[string]*StoredIssue
	nextIssue  int
	nextNum    map[string]int
	nextCmt    int
	nextChange int
	requests   []RecordedRequest
	faults     []*fault
	rng        *rand.Rand

	// the RateLimit bucket
	tokens       float64
	bucketAt     time.Time
	limitedUntil time.Time

	hooks    *hookSender
	closeMux sync.Once
}

// New returns a Sandbox for opts, with defaults filled in.
func New(opts Options) *Sandbox {
	if opts.Deployment == "" {
		opts.Deployment = jira.DeploymentCloud
	}
	if len(opts.Projects) == 0 {
		opts.Projects = []Project{{Key: "SEC", Name: "Security"}}
	}
	for i := range opts.Projects {
		p := &opts.Projects[i]
		if p.ID == "" {
			p.ID = fmt.Sprint(10000 + i)
		}
		if p.Name == "" {
			p.Name = p.Key
		}
		if len(p.IssueTypes) == 0 {
			p.IssueTypes = []string{"Task", "Bug", "Story"}
		}
	}
	if len(opts.Users) == 0 {
		opts.Users = []User{DefaultUser}
	}
	if len(opts.Priorities) == 0 {
		opts.Priorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}
	}
	wf := opts.Workflow
	if wf == nil || len(wf.Statuses) == 0 {
		wf = DefaultWorkflow()
	}
	if wf.Initial == "" {
		wf.Initial = wf.Statuses[0].Name
	}
	s := &Sandbox{
		opts:       opts,
		cloud:      opts.Deployment == jira.DeploymentCloud,
		workflow:   wf,
		baseURL:    strings.TrimRight(opts.BaseURL, "/"),
		byKey:      map[string]*StoredIssue{},
		byID:       map[string]*StoredIssue{},
		nextNum:    map[string]int{},
		nextIssue:  10000,
		nextCmt:    10000,
		nextChange: 10000,
		rng:        rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
	}
	if opts.WebhookURL != "" {
		s.hooks = newHookSender(opts)
	}
	s.routes()
	return s
}

// Start serves a new Sandbox on a random port of 127.0.0.1.
func Start(opts Options) (*Sandbox, error) {
	return Listen("127.0.0.1:0", opts)
}

// Listen serves a new Sandbox on addr, for the jira-sandbox command.
func Listen(addr string, opts Options) (*Sandbox, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "http://" + ln.Addr().String()
	}
	s := New(opts)
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL of the Sandbox (Options.BaseURL, or where Start
// serves it).
func (s *Sandbox) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Close stops a started Sandbox's server and waits for pending webhooks.
// Hanging "lost answer" requests are cut off.
func (s *Sandbox) Close() error {
	var err error
	s.closeMux.Do(func() {
		if s.srv != nil {
			// Close rather than Shutdown: lost-answer faults hang on purpose.
			err = s.srv.Close()
		}
		if s.hooks != nil {
			s.hooks.close()
		}
	})
	return err
}

// FlushWebhooks waits until every webhook queued so far has been delivered
// (or failed), or ctx ends.
func (s *Sandbox) FlushWebhooks(ctx context.Context) error {
	if s.hooks == nil {
		return nil
	}
	return s.hooks.flush(ctx)
}

// Webhooks returns the webhooks sent so far.
func (s *Sandbox) Webhooks() []WebhookDelivery {
	if s.hooks == nil {
		return nil
	}
	return s.hooks.deliveries()
}

// Issues returns copies of the stored issues in creation order.
func (s *Sandbox) Issues() []StoredIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredIssue, len(s.issues))
	for i, is := range s.issues {
		out[i] = is.clone()
	}
	return out
}

// Issue returns a copy of one stored issue.
func (s *Sandbox) Issue(key string) (StoredIssue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.byKey[key]
	if !ok {
		return StoredIssue{}, false
	}
	return is.clone(), true
}

// Comments returns copies of an issue's stored comments with their
// properties, oldest first; nil for an unknown issue.
func (s *Sandbox) Comments(key string) []StoredComment {
	is, _ := s.Issue(key)
	return is.Comments
}

// StatusHistory returns the transitions applied to an issue, oldest first.
func (s *Sandbox) StatusHistory(key string) []StatusChange {
	is, _ := s.Issue(key)
	return is.StatusHistory
}

// AssigneeHistory returns the assignments applied to an issue, oldest first.
func (s *Sandbox) AssigneeHistory(key string) []AssigneeChange {
	is, _ := s.Issue(key)
	return is.AssigneeHistory
}

// Requests returns the requests received so far, in arrival order.
func (s *Sandbox) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RecordedRequest(nil), s.requests...)
}

// ValidationErrors returns why Validate rejected requests, if it did.
func (s *Sandbox) ValidationErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.requests {
		if r.ValidationError != "" {
			out = append(out, r.Method+" "+r.Path+": "+r.ValidationError)
		}
	}
	return out
}

// RetryAfterViolations returns the requests that arrived while a Retry-After
// the sandbox announced was running, ignoring those within grace of the 429:
// a client cannot hold back requests it sent before the 429 reached it.
func (s *Sandbox) RetryAfterViolations(grace time.Duration) []RecordedRequest {
	return s.RetryAfterViolationsHeard(grace, nil)
}

// RetryAfterViolationsHeard is RetryAfterViolations counting only the
// windows of the 429s heard reports as heard (nil: all). A test that kills
// its client needs it: a 429 written to a process already dead opened a
// window on the site that no process could learn of.
func (s *Sandbox) RetryAfterViolationsHeard(grace time.Duration, heard func(RecordedRequest) bool) []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RecordedRequest
	for _, r := range s.requests {
		for _, w := range s.requests {
			if w.Status != http.StatusTooManyRequests || w.RetryAfter <= 0 || heard != nil && !heard(w) {
				continue
			}
			start := w.Answered
			if start.IsZero() {
				start = w.Time
			}
			if r.Time.After(start.Add(grace)) && r.Time.Before(start.Add(w.RetryAfter)) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func (is *StoredIssue) clone() StoredIssue {
	c := *is
	c.Labels = append([]string(nil), is.Labels...)
	c.Description = append(json.RawMessage(nil), is.Description...)
	c.Fields = map[string]json.RawMessage{}
	for k, v := range is.Fields {
		c.Fields[k] = append(json.RawMessage(nil), v...)
	}
	c.Properties = map[string]json.RawMessage{}
	for k, v := range is.Properties {
		c.Properties[k] = append(json.RawMessage(nil), v...)
	}
	c.Comments = make([]StoredComment, len(is.Comments))
	for i, cm := range is.Comments {
		c.Comments[i] = cm.clone()
	}
	c.StatusHistory = append([]StatusChange(nil), is.StatusHistory...)
	c.AssigneeHistory = append([]AssigneeChange(nil), is.AssigneeHistory...)
	if is.Assignee != nil {
		u := *is.Assignee
		c.Assignee = &u
	}
	if is.Reporter != nil {
		u := *is.Reporter
		c.Reporter = &u
	}
	return c
}

func (c StoredComment) clone() StoredComment {
	c.Body = append(json.RawMessage(nil), c.Body...)
	if c.Properties != nil {
		props := make(map[string]json.RawMessage, len(c.Properties))
		for k, v := range c.Properties {
			props[k] = append(json.RawMessage(nil), v...)
		}
		c.Properties = props
	}
	return c
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   *bytes.Buffer // a copy of what was written, when answers are validated
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body != nil {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// bufferWriter holds an answer that a lost-answer fault will never send.
type bufferWriter struct {
	h      http.Header
	status int
}

func (w *bufferWriter) Header() http.Header { return w.h }
func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

type ctxKey int

const userKey ctxKey = 0

// ServeHTTP records the request, applies validation, faults and
// authentication, and serves it.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, []string{"cannot read the request body"}, nil)
		return
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, []string{"request body too large"}, nil)
		return
	}
	rec := RecordedRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Time: arrived}
	if s.baseURL == "" && r.Host != "" {
		s.mu.Lock()
		if s.baseURL == "" {
			s.baseURL = "http://" + r.Host
		}
		s.mu.Unlock()
	}
	idx := s.record(rec)
	setStatus := func(code int, fault string, retryAfter time.Duration) {
		s.mu.Lock()
		s.requests[idx].Status = code
		s.requests[idx].Served = code
		s.requests[idx].Fault = fault
		s.requests[idx].RetryAfter = retryAfter
		s.mu.Unlock()
	}
	// serveHidden serves the request for its effect alone: the answer is
	// kept from the client, and only Served remembers it.
	serveHidden := func(r *http.Request, fault string, shown int) {
		bw := &bufferWriter{h: http.Header{}}
		s.mux.ServeHTTP(bw, r)
		s.mu.Lock()
		s.requests[idx].Status = shown
		s.requests[idx].Served = bw.status
		s.requests[idx].Fault = fault
		s.mu.Unlock()
	}

	if s.opts.Validate != nil && strings.HasPrefix(r.URL.Path, "/rest/") {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := s.opts.Validate(r, body); err != nil {
			s.mu.Lock()
			s.requests[idx].ValidationError = err.Error()
			s.mu.Unlock()
			setStatus(http.StatusBadRequest, "", 0)
			writeError(w, http.StatusBadRequest, []string{"sandbox: the request does not match Atlassian's OpenAPI spec: " + err.Error()}, nil)
			return
		}
	}

	if strings.HasPrefix(r.URL.Path, "/rest/") {
		if ra, limited := s.admit(w); limited {
			setStatus(http.StatusTooManyRequests, "rate-limit", ra)
			s.mu.Lock()
			s.requests[idx].Answered = time.Now()
			s.mu.Unlock()
			writeError(w, http.StatusTooManyRequests, []string{"Rate limit exceeded."}, nil)
			return
		}
	}

	f := s.pickFault(r)
	if f != nil {
		switch f.Kind {
		case FaultRateLimit:
			answered := time.Now()
			ra := f.RetryAfter
			if ra <= 0 {
				ra = time.Second
			}
			// Retry-After counts whole seconds; round up so the announced
			// window is never shorter than the configured one.
			secs := int((ra + time.Second - 1) / time.Second)
			ra = time.Duration(secs) * time.Second
			if f.ResetHeader {
				w.Header().Set("X-RateLimit-Reset", answered.Add(ra).UTC().Format(time.RFC3339Nano))
			} else {
				w.Header().Set("Retry-After", fmt.Sprint(secs))
			}
			setStatus(http.StatusTooManyRequests, FaultRateLimit.String(), ra)
			s.mu.Lock()
			s.requests[idx].Answered = answered
			s.mu.Unlock()
			writeError(w, http.StatusTooManyRequests, []string{"Rate limit exceeded."}, nil)
			return
		case FaultServerError:
			code := f.Status
			if code == 0 {
				code = http.StatusServiceUnavailable
			}
			setStatus(code, FaultServerError.String(), 0)
			writeError(w, code, []string{"Internal server error (injected by the sandbox)"}, nil)
			return
		case FaultSlow:
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				setStatus(0, FaultSlow.String(), 0)
				return
			}
		case FaultServedLate:
			time.Sleep(f.Delay)
		}
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	u, ok := s.authenticate(r)
	if !ok && !(r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/serverInfo")) && strings.HasPrefix(r.URL.Path, "/rest/") {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		setStatus(http.StatusUnauthorized, "", 0)
		writeError(w, http.StatusUnauthorized, []string{"You are not authenticated. Authentication required to perform this operation."}, nil)
		return
	}
	if ok {
		r = r.WithContext(context.WithValue(r.Context(), userKey, u))
	}

	if f != nil && f.Kind == FaultStoredServerError {
		code := f.Status
		if code == 0 {
			code = http.StatusBadGateway
		}
		serveHidden(r, FaultStoredServerError.String(), code)
		writeError(w, code, []string{http.StatusText(code) + " (injected by the sandbox after storing the request's effect)"}, nil)
		return
	}
	if f != nil && f.Kind == FaultLostAnswer {
		serveHidden(r, FaultLostAnswer.String(), 0)
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		} else {
			<-r.Context().Done()
		}
		// Drop the connection without an answer, as a crashed proxy would.
		panic(http.ErrAbortHandler)
	}
	sw := &statusWriter{ResponseWriter: w}
	if s.opts.ValidateAnswer != nil {
		sw.body = &bytes.Buffer{}
	}
	s.mux.ServeHTTP(sw, r)
	setStatus(sw.status, faultName(f), 0)
	if s.opts.ValidateAnswer != nil && strings.HasPrefix(r.URL.Path, "/rest/") {
		if err := s.opts.ValidateAnswer(r, sw.status, w.Header(), sw.body.Bytes()); err != nil {
			s.mu.Lock()
			s.requests[idx].ValidationError = err.Error()
			s.mu.Unlock()
		}
	}
}

func faultName(f *fault) string {
	if f != nil && (f.Kind == FaultSlow || f.Kind == FaultServedLate) {
		return f.Kind.String()
	}
	return ""
}

func (s *Sandbox) record(rec RecordedRequest) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	return len(s.requests) - 1
}

// authenticate checks Basic (e-mail or user name with token or password) and,
// on Data Center, Bearer (personal access token).
func (s *Sandbox) authenticate(r *http.Request) (*User, bool) {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		if s.cloud {
			return nil, false
		}
		for i := range s.opts.Users {
			if u := &s.opts.Users[i]; u.Token != "" && u.Token == tok {
				return u, true
			}
		}
		return nil, false
	}
	if name, pass, ok := r.BasicAuth(); ok {
		for i := range s.opts.Users {
			u := &s.opts.Users[i]
			if (strings.EqualFold(name, u.Email) || (u.Name != "" && name == u.Name)) && u.Token != "" && pass == u.Token {
				return u, true
			}
		}
		return nil, false
	}
	if h == "" && s.opts.Anonymous {
		return &s.opts.Users[0], true
	}
	return nil, false
}

func actor(r *http.Request) *User {
	u, _ := r.Context().Value(userKey).(*User)
	return u
}

// writeError answers Jira's error JSON.
func writeError(w http.ResponseWriter, code int, messages []string, fields map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, code, map[string]any{"errorMessages": messages, "errors": fields})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		return
	}
}

// admit spends one token of the RateLimit bucket, or refuses the request:
// the bucket is empty, or a window announced earlier is still running.
func (s *Sandbox) admit(w http.ResponseWriter) (time.Duration, bool) {
	if s.opts.RateLimit <= 0 {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	burst := max(1, s.opts.RateLimit)
	if s.bucketAt.IsZero() {
		s.tokens, s.bucketAt = burst, now
	}
	s.tokens = min(burst, s.tokens+now.Sub(s.bucketAt).Seconds()*s.opts.RateLimit)
	s.bucketAt = now
	if now.After(s.limitedUntil) && s.tokens >= 1 {
		s.tokens--
		if s.opts.NearLimit && s.tokens < burst/5 {
			w.Header().Set("X-RateLimit-NearLimit", "true")
		}
		return 0, false
	}
	ra := s.opts.RateLimitWindow
	if ra <= 0 {
		ra = time.Second
	}
	secs := int((ra + time.Second - 1) / time.Second)
	ra = time.Duration(secs) * time.Second
	s.limitedUntil = now.Add(ra)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("RateLimit-Reason", "jira-burst-based")
	return ra, true
}
