package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/alertbridge/alertbridge/console"
	"github.com/alertbridge/alertbridge/httpapi"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
	"github.com/alertbridge/alertbridge/signin"
)

// specPath is the HTTP API's OpenAPI document.
var specPath = filepath.Join("..", "docs", "openapi.yaml")

// catchAllKey lists, in the document, the patterns the server registers to
// answer what no operation matches.
const catchAllKey = "x-alertbridge-catch-all"

// spec is the loaded document and a router over its paths.
type spec struct {
	doc      *openapi3.T
	catchAll map[string]string
	// mux routes a request to its operation by the document's paths,
	// with the server's own router, so that precedence (a literal segment
	// over a parameter) is exactly the server's.
	mux *http.ServeMux
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", specPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", specPath, err)
	}
	s := &spec{doc: doc, catchAll: map[string]string{}, mux: http.NewServeMux()}
	if raw, ok := doc.Extensions[catchAllKey].(map[string]any); ok {
		for k, v := range raw {
			s.catchAll[k], _ = v.(string)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			var names []string
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				if p.Value != nil && p.Value.In == openapi3.ParameterInPath {
					names = append(names, p.Value.Name)
				}
			}
			s.mux.HandleFunc(method+" "+muxPath(path), func(_ http.ResponseWriter, r *http.Request) {
				m := r.Context().Value(matchKey{}).(*match)
				m.route = route
				m.params = map[string]string{}
				for _, n := range names {
					m.params[n] = r.PathValue(n)
				}
			})
		}
	}
	return s, nil
})

// muxPath is a document path as a ServeMux pattern: the document's "/"
// is the console's list alone ("/{$}"), not every path.
func muxPath(path string) string {
	if path == "/" {
		return "/{$}"
	}
	return path
}

type matchKey struct{}

type match struct {
	route  *routers.Route
	params map[string]string
}

// find returns the operation r is for, or nil when the document has none.
func (s *spec) find(r *http.Request) *match {
	m := &match{}
	s.mux.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), matchKey{}, m)))
	if m.route == nil {
		return nil
	}
	return m
}

func mustSpec(tb testing.TB) *spec {
	tb.Helper()
	s, err := loadSpec()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// Every route the server registers is in the document, and every operation
// in the document is served: a new route without documentation, or
// documentation of a route that went away, fails here.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := mustSpec(t)
	api := httpapi.New(httpapi.Config{})
	// Routes other packages add, as cmd/alertbridge/serve.go adds them.
	api.Handle(inbound.Pattern, http.NotFoundHandler())
	signin.New(signin.Config{}).Register(api)
	console.New(console.Config{SignIn: signin.New(signin.Config{})}).Register(api)

	registered := map[string]bool{}
	for _, pattern := range api.Routes() {
		registered[pattern] = true
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			if _, documented := s.catchAll[pattern]; !documented {
				t.Errorf("the server registers %q, which the document neither has as a path nor lists under %s", pattern, catchAllKey)
			}
			continue
		}
		if path == "/{$}" {
			path = "/"
		}
		item := s.doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("the server serves %s, which %s does not document", pattern, specPath)
		}
	}
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			if !registered[method+" "+muxPath(path)] {
				t.Errorf("%s documents %s %s, which the server does not register", specPath, method, path)
			}
		}
	}
	for pattern := range s.catchAll {
		if !registered[pattern] {
			t.Errorf("%s lists %q under %s, which the server does not register", specPath, pattern, catchAllKey)
		}
	}
}

// The document is held to the server's answers by checkedHandler, which
// newEnv puts in front of every test server; this test checks that it
// does catch what it must.
func TestOpenAPICheckCatchesMismatches(t *testing.T) {
	s := mustSpec(t)
	cases := []struct {
		name    string
		req     *http.Request
		answer  func(w http.ResponseWriter)
		problem string // "" when the exchange matches the document
	}{
		{"a documented answer", httptest.NewRequest(http.MethodGet, "/healthz", nil),
			func(w http.ResponseWriter) { jsonAnswer(w, 200, `{"status":"ok"}`) }, ""},
		{"an undocumented status", httptest.NewRequest(http.MethodGet, "/healthz", nil),
			func(w http.ResponseWriter) { jsonAnswer(w, 418, `{"status":"ok"}`) }, "status is not supported"},
		{"an undocumented member", httptest.NewRequest(http.MethodGet, "/healthz", nil),
			func(w http.ResponseWriter) { jsonAnswer(w, 200, `{"status":"ok","extra":1}`) }, "doesn't match"},
		{"an error not in the error shape", authed(httptest.NewRequest(http.MethodGet, "/api/v1/alerts/x", nil)),
			func(w http.ResponseWriter) { jsonAnswer(w, 404, `{"message":"no"}`) }, "doesn't match"},
		{"an invalid request answered 2xx", authed(httptest.NewRequest(http.MethodPost, "/api/v1/alerts", strings.NewReader(`{"title":"t"}`))),
			func(w http.ResponseWriter) {
				jsonAnswer(w, 202, `{"alertId":"a","duplicate":false,"destinations":[]}`)
			}, "invalid by the document but answered 202"},
		{"an invalid request refused", authed(httptest.NewRequest(http.MethodPost, "/api/v1/alerts", strings.NewReader(`{"title":"t"}`))),
			func(w http.ResponseWriter) {
				jsonAnswer(w, 400, `{"error":{"code":"invalid_field","field":"alertId","message":"required"}}`)
			}, ""},
		{"an unknown API path answered 200", authed(httptest.NewRequest(http.MethodGet, "/api/v9/nothing", nil)),
			func(w http.ResponseWriter) { jsonAnswer(w, 200, `{}`) }, "no operation"},
	}
	for _, tc := range cases {
		if tc.req.Body != nil && tc.req.Header.Get("Content-Type") == "" {
			tc.req.Header.Set("Content-Type", "application/json")
		}
		c := &checker{spec: s}
		h := c.wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tc.answer(w) }))
		h.ServeHTTP(httptest.NewRecorder(), tc.req)
		got := strings.Join(c.problems, "\n")
		switch {
		case tc.problem == "" && got != "":
			t.Errorf("%s: reported %s", tc.name, got)
		case tc.problem != "" && !strings.Contains(got, tc.problem):
			t.Errorf("%s: reported %q, want a problem containing %q", tc.name, got, tc.problem)
		}
	}
}

func authed(r *http.Request) *http.Request {
	r.Header.Set("Authorization", "Bearer "+opsToken)
	return r
}

func jsonAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// The payload the README posts to the Alertmanager route is accepted, and
// (through the test server's check) matches the document.
func TestExampleAlertmanagerNotification(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "examples", "alertmanager-notification.json"))
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, options{})
		var got struct {
			Alerts []struct {
				AlertID string `json:"alertId"`
			} `json:"alerts"`
		}
		want(t, e.do(t, http.MethodPost, "/api/v1/alerts/alertmanager", string(body)), http.StatusAccepted, &got)
		if len(got.Alerts) == 0 {
			t.Fatal("no alerts stored")
		}
		for _, a := range got.Alerts {
			if e.alert(t, a.AlertID).Source != "alertmanager" {
				t.Errorf("alert %s: not from Alertmanager", a.AlertID)
			}
		}
	})
}

// checker validates every request and answer against the document: an
// answer whose status, headers or body the document does not allow is a
// problem, and so is a request the document calls invalid that the server
// did not refuse with a 4xx. It records problems rather than failing the
// test itself, since it runs on the server's goroutines.
type checker struct {
	spec     *spec
	mu       sync.Mutex
	problems []string
}

// maxProblems bounds what a long fuzzing run keeps.
const maxProblems = 50

// checkedHandler wraps a test server's handler with the document's check,
// reporting its problems when the test ends. Register it before the
// cleanup that stops the server, so that it reports after the last answer.
func checkedHandler(tb testing.TB, h http.Handler) http.Handler {
	tb.Helper()
	c := &checker{spec: mustSpec(tb)}
	tb.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			tb.Errorf("%s: %s", specPath, p)
		}
	})
	return c.wrap(h)
}

func (c *checker) report(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

var validation = &openapi3filter.Options{
	IncludeResponseStatus:             true,
	RejectWhenRequestBodyNotSpecified: true,
	SkipSettingDefaults:               true,
	MultiError:                        true,
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		// The document says a bearer token is needed; whether the token is
		// right is the server's to say.
		scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return errors.New("no bearer token")
		}
		return nil
	},
}

func init() {
	// Event bodies one per line are text to the document.
	for _, ct := range []string{"application/x-ndjson", "application/jsonl", "application/jsonlines"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

func (c *checker) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+1))
		_, err := buf.ReadFrom(r.Body)
		body := buf.Bytes()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		c.check(r, body, rec)
	})
}

func (c *checker) check(r *http.Request, body []byte, rec *recorder) {
	ctx := context.Background()
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(body))
	what := fmt.Sprintf("%s %s answered %d", r.Method, r.URL.RequestURI(), rec.status)
	m := c.spec.find(req)
	if m == nil {
		c.checkUnmatched(r, what, rec)
		return
	}
	opts := validation
	if len(body) > httpapi.MaxBodyBytes {
		// Decoding a notification of many MiB into the validator's
		// generic values costs more than the test it rides on; the
		// answer to it is still checked, and a body of a size other
		// requests have is checked whole.
		o := *validation
		o.ExcludeRequestBody = true
		opts = &o
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: m.params, Route: m.route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && (rec.status < 400 || rec.status >= 500) {
		c.report("%s: the request is invalid by the document but answered %d: %v (body %.200q)", what, rec.status, err, body)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.status,
		Header:                 rec.Header(),
		Options:                validation,
	}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.report("%s (%s %s): %v; answer %.300q", what, m.route.Method, m.route.Path, err, rec.body.Bytes())
	}
}

// checkUnmatched holds a request no operation documents to what the
// document's description says: under /api/ the catch-all answers 401 or
// 404 in the error shape; elsewhere the router answers 404 or 405, or
// redirects to a cleaned path.
func (c *checker) checkUnmatched(r *http.Request, what string, rec *recorder) {
	switch {
	case rec.status >= 300 && rec.status < 400:
	case strings.HasPrefix(r.URL.Path, "/api/"):
		if rec.status != http.StatusUnauthorized && rec.status != http.StatusNotFound {
			c.report("%s: no operation documents it, so it must be 401 or 404 (%s)", what, catchAllKey)
			return
		}
		schema := c.spec.doc.Components.Schemas["Error"].Value
		var v any
		if err := json.Unmarshal(rec.body.Bytes(), &v); err != nil {
			c.report("%s: the catch-all's answer is not JSON: %v", what, err)
		} else if err := schema.VisitJSON(v); err != nil {
			c.report("%s: the catch-all's answer is not in the error shape: %v", what, err)
		}
	case rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed:
		c.report("%s: no operation documents it, so it must be 404 or 405", what)
	}
}

// recorder passes an answer through while keeping a copy.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
