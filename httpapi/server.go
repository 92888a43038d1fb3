// Package httpapi serves alertbridge's HTTP API: alert ingest, the alert
// API, destinations, and the operational endpoints.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/apierror"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

// MaxBodyBytes bounds every request body but a notification's.
const MaxBodyBytes = 1 << 20

// MaxNotificationBodyBytes bounds an Alertmanager or Grafana notification.
// Alertmanager sends a group in one body, however large, and takes a 413
// as final, sending the same body again at every group interval, so a
// group over the limit is never stored. A 5,000-alert group of
// kube-prometheus alerts is 5.5 MiB (TestAlertmanagerLargeGroup), and
// ingest.MaxNotificationAlerts of them 11 MiB; the limit leaves room for
// alerts five times that size.
const MaxNotificationBodyBytes = 64 << 20

// Token is one accepted API bearer token.
type Token struct {
	Name  string
	Value string
	// Scopes is what the token may do; nil: every scope.
	Scopes []auth.Scope
}

// Config configures the API.
type Config struct {
	// Reload applies the configuration file anew (POST /-/reload, as
	// Prometheus has it), or says why it refused; nil: the route answers 404.
	Reload  func(context.Context) error
	Service *lifecycle.Service
	Store   store.Store
	Tokens  []Token
	// IngestRate and IngestBurst limit ingest requests per token.
	IngestRate  float64
	IngestBurst int
	Logger      *slog.Logger
	Registry    *prometheus.Registry
	// Detections evaluates events posted to /api/v1/logs/{logType}; without
	// it events are accepted and counted, and no rule sees them.
	Detections *detection.Pipeline
}

// Server is the API's http.Handler.
type Server struct {
	cfg     Config
	mux     *routeMux
	tokens  []tokenHash
	limiter sync.Map // token name → *rate.Limiter
	metrics *metrics
}

type tokenHash struct {
	principal auth.Principal
	sum       [32]byte
}

// New builds the API.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IngestRate <= 0 {
		cfg.IngestRate = 2000
	}
	if cfg.IngestBurst <= 0 {
		cfg.IngestBurst = 2 * int(cfg.IngestRate)
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, mux: &routeMux{ServeMux: http.NewServeMux()}, metrics: newMetrics(cfg.Registry)}
	for _, t := range cfg.Tokens {
		// Comparing fixed-size hashes keeps the comparison constant-time
		// whatever the lengths of the token and the guess.
		scopes := t.Scopes
		if scopes == nil {
			scopes = auth.AllScopes
		}
		s.tokens = append(s.tokens, tokenHash{principal: auth.Principal{Name: t.Name, Token: true, Scopes: scopes}, sum: sha256.Sum256([]byte(t.Value))})
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	ingest := func(h handler) http.Handler { return s.api(auth.ScopeIngest, true, MaxBodyBytes, h) }
	notification := func(h handler) http.Handler { return s.api(auth.ScopeIngest, true, MaxNotificationBodyBytes, h) }
	read := func(h handler) http.Handler { return s.api(auth.ScopeRead, false, MaxBodyBytes, h) }
	triage := func(h handler) http.Handler { return s.api(auth.ScopeTriage, false, MaxBodyBytes, h) }
	admin := func(h handler) http.Handler { return s.api(auth.ScopeAdmin, false, MaxBodyBytes, h) }
	s.mux.Handle("POST /api/v1/alerts", ingest(s.postAlert))
	s.mux.Handle("POST /api/v1/alerts/alertmanager", notification(s.postAlertmanager))
	s.mux.Handle("POST /api/v1/alerts/grafana", notification(s.postGrafana))
	s.mux.Handle("POST /api/v1/logs/{logType}", ingest(s.postLogs))
	s.mux.Handle("GET /api/v1/alerts", read(s.listAlerts))
	s.mux.Handle("GET /api/v1/alerts/{alertId}", read(s.getAlert))
	s.mux.Handle("PATCH /api/v1/alerts/{alertId}", triage(s.patchAlert))
	s.mux.Handle("POST /api/v1/alerts/{alertId}/comments", triage(s.postComment))
	s.mux.Handle("POST /api/v1/alerts/{alertId}/dispatch", triage(s.dispatch))
	s.mux.Handle("GET /api/v1/destinations", read(s.listDestinations))
	s.mux.Handle("POST /api/v1/destinations/{name}/test", triage(s.testDestination))
	s.mux.Handle("POST /-/reload", admin(s.reload))
	// Any valid token learns that a route does not exist; no scope is needed.
	s.mux.Handle("/api/", s.api("", false, MaxBodyBytes, func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no such endpoint: " + r.Method + " " + r.URL.Path)
	}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
}

// Handle adds a route beside the API's own, for handlers other packages
// serve (such as Jira webhooks).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Routes lists the patterns the server serves, in the order they were
// registered, so that docs/openapi.yaml can be held to them.
func (s *Server) Routes() []string { return slices.Clone(s.mux.patterns) }

// routeMux is a ServeMux that remembers its patterns.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A handler bug must cost one request, not the process.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.cfg.Logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			apierror.Write(w, apierror.From(errors.New("panic")))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// handler is an API handler; an error it returns becomes the answer.
type handler func(w http.ResponseWriter, r *http.Request) error

// tokenName is the name of the token that authenticated the request.
func tokenName(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.Name
}

// api wraps a handler with authentication, the scope it needs ("" for
// none), the ingest rate limit, a limit of maxBody bytes on the body and
// error rendering.
func (s *Server) api(scope auth.Scope, limited bool, maxBody int64, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.authenticate(r)
		name := p.Name
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alertbridge"`)
			s.fail(w, r, &apierror.Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Message: "missing or invalid bearer token in the Authorization header"})
			return
		}
		if scope != "" && !p.Has(scope) {
			s.fail(w, r, scopeError(&auth.MissingScopeError{Principal: p, Scope: scope, For: r.Method + " " + r.URL.Path}, ""))
			return
		}
		if limited {
			if wait, ok := s.allow(name); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
				s.fail(w, r, &apierror.Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
					Message: fmt.Sprintf("ingest rate limit of %g requests/s for token %q exceeded", s.cfg.IngestRate, name)})
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if err := h(w, r); err != nil {
			s.fail(w, r, apierror.From(err))
			if apierror.From(err).Status >= 500 {
				s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			}
		}
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *apierror.Error) {
	if endpoint := endpointOf(r); endpoint != "" {
		s.metrics.ingest.WithLabelValues(endpoint, e.Code).Inc()
	}
	apierror.Write(w, e)
}

// scopeError is the 403 for a missing scope; field names the request
// field that needed it, if one did.
func scopeError(m *auth.MissingScopeError, field string) *apierror.Error {
	return &apierror.Error{Status: http.StatusForbidden, Code: "missing_scope", Field: field, Message: m.Error()}
}

func (s *Server) authenticate(r *http.Request) (auth.Principal, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return auth.Principal{}, false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var (
		p     auth.Principal
		found int
	)
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			p, found = t.principal, 1
		}
	}
	return p, found == 1
}

// allow takes one request from the token's bucket, or says how long until
// one is free.
func (s *Server) allow(token string) (time.Duration, bool) {
	l, ok := s.limiter.Load(token)
	if !ok {
		l, _ = s.limiter.LoadOrStore(token, rate.NewLimiter(rate.Limit(s.cfg.IngestRate), s.cfg.IngestBurst))
	}
	lim := l.(*rate.Limiter)
	now := time.Now()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// requireJSON answers 415 unless the request says its body is JSON.
func requireJSON(r *http.Request, also ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	for _, a := range also {
		if err == nil && mt == a {
			return nil
		}
	}
	return &apierror.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: fmt.Sprintf("Content-Type must be application/json, not %q", ct)}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("readiness check failed", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// reload answers POST /-/reload: 200 once the configuration is applied, or
// 400 naming what is wrong with the file (the old configuration stays).
func (s *Server) reload(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Reload == nil {
		return notFound("this server cannot reload its configuration")
	}
	if err := s.cfg.Reload(r.Context()); err != nil {
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_config", Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	return nil
}
