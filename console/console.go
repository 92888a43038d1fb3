// Package console is the web console for the people who triage: the
// alert list, an alert's page with its issues, deliveries, timeline,
// comments and sync state, the triage actions, and the destinations,
// rules and sources pages. Pages are rendered on the server with
// html/template from files embedded in the binary; no script runs in the
// browser. Every route is behind signin.Require.
package console

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/pagesec"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/signin"
	"github.com/alertbridge/alertbridge/store"
)

// Destination is what the console shows of a configured destination
// beyond what the alert service knows.
type Destination struct {
	Name string
	// Where is the Jira site and project, or the webhook's host.
	Where string
	// Sync is each synced field's mode ("status": "two-way"), for Jira.
	Sync      map[string]string
	StatusMap map[alert.Status]string
}

// Rule is a loaded detection rule.
type Rule struct {
	ID, Name    string
	Enabled     bool
	Severity    alert.Severity
	LogTypes    []string
	Threshold   int
	DedupPeriod time.Duration
}

// Source is a configured log source.
type Source struct {
	Name, Type   string
	PollInterval time.Duration
	KeyExpires   time.Time
	// Checkpoint names the source's saved position in the store.
	Checkpoint string
}

// Config configures the console. The functions are read on every page,
// so a configuration reload shows at once.
type Config struct {
	Service      *lifecycle.Service
	Store        store.Store
	SignIn       *signin.SignIn
	Destinations func() []Destination
	Rules        func() []Rule
	Sources      func() []Source
	Logger       *slog.Logger
	Now          func() time.Time
}

// Console serves the pages.
type Console struct {
	cfg    Config
	routes []string
}

// New builds the console.
func New(cfg Config) *Console {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Destinations == nil {
		cfg.Destinations = func() []Destination { return nil }
	}
	if cfg.Rules == nil {
		cfg.Rules = func() []Rule { return nil }
	}
	if cfg.Sources == nil {
		cfg.Sources = func() []Source { return nil }
	}
	return &Console{cfg: cfg}
}

// Register adds the console's routes.
func (c *Console) Register(m signin.Mux) {
	guard := c.cfg.SignIn.Require
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /{$}":                        c.listPage,
		"GET /alerts/{alertId}":           c.alertPage,
		"POST /alerts/{alertId}/status":   c.setStatus,
		"POST /alerts/{alertId}/assign":   c.assign,
		"POST /alerts/{alertId}/comment":  c.comment,
		"POST /alerts/{alertId}/dispatch": c.dispatch,
		"GET /destinations":               c.destinationsPage,
		"POST /destinations/{name}/test":  c.sendTest,
		"GET /rules":                      c.rulesPage,
		"GET /sources":                    c.sourcesPage,
	} {
		m.Handle(pattern, guard(h))
		c.routes = append(c.routes, pattern)
	}
	m.Handle("GET /assets/{file}", http.HandlerFunc(serveAsset))
	slices.Sort(c.routes)
}

// Routes lists the patterns behind sign-in, for tests that hold every one
// to it.
func (c *Console) Routes() []string { return slices.Clone(c.routes) }

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"lower": func(s any) string { return strings.ToLower(toString(s)) },
	"join":  func(ss []string) string { return strings.Join(ss, ", ") },
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case alert.Status:
		return string(v)
	case alert.Severity:
		return string(v)
	case store.DeliveryState:
		return string(v)
	}
	return ""
}

// pages holds one template set per page, each with the layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		out[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return out
}()

// layout is what every page's frame shows.
type layout struct {
	Title string
	User  string
	Nav   string // the section shown: alerts, destinations, rules, sources
	// Refresh reloads the page after this many seconds (a test alert on
	// its way); 0: never.
	Refresh int
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, l layout, data any) {
	l.User, _ = signin.User(r.Context())
	pagesec.Set(w.Header())
	w.WriteHeader(status)
	err := pages[page].ExecuteTemplate(w, "layout", map[string]any{"L": l, "D": data})
	if err != nil {
		c.cfg.Logger.Error("render console page", "page", page, "error", err)
	}
}

// problem shows an error page with a link back: a 4xx the user can act
// on, or a 500 whose detail stays in the log.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, status int, msg, back string, err error) {
	if errors.Is(err, store.ErrNotFound) && status >= 500 {
		status = http.StatusNotFound
	}
	if status >= 500 {
		c.cfg.Logger.Error("console request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = "Something went wrong on the server; its log says what."
	}
	c.render(w, r, status, "problem", layout{Title: http.StatusText(status)},
		map[string]any{"Status": status, "Message": msg, "Back": pagesec.LocalPath(back)})
}

func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	data, err := assetFS.ReadFile("assets/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".png"):
		w.Header().Set("Content-Type", "image/png")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(data)
}
