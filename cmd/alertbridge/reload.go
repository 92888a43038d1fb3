package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/internal/apierror"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
)

// reloader applies the configuration file anew to a running server, on
// SIGHUP and on POST /-/reload, as Prometheus does: destinations (with
// their templates, sync and Jira clients), routing, rules, Jira webhook
// receivers and the sources' settings change; accepted alerts and
// deliveries in flight are untouched (a delivery finishes with the notifier
// it started with). A file that does not pass check-config's checks is
// refused whole and the running configuration stays. What only a restart
// can change (listening address, storage, API tokens, adding or removing a
// source) is kept and named in the log.
type reloader struct {
	path   string
	logger *slog.Logger
	// apply builds everything the new configuration needs, and only when
	// all of it built, swaps it in; an error leaves the old in place.
	apply func(*config.Config) error

	mu      sync.Mutex
	current atomic.Pointer[config.Config]
	ok, at  prometheus.Gauge
}

func newReloader(path string, cfg *config.Config, reg prometheus.Registerer, logger *slog.Logger, apply func(*config.Config) error) *reloader {
	r := &reloader{path: path, logger: logger, apply: apply,
		ok: prometheus.NewGauge(prometheus.GaugeOpts{Name: "alertbridge_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or was refused (0)."}),
		at: prometheus.NewGauge(prometheus.GaugeOpts{Name: "alertbridge_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully, at start or by a reload."}),
	}
	reg.MustRegister(r.ok, r.at)
	r.current.Store(cfg)
	r.ok.Set(1)
	r.at.SetToCurrentTime()
	return r
}

// reload loads the file and applies it, or refuses it.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.path)
	if err == nil {
		err = r.apply(cfg)
	}
	if err != nil {
		r.ok.Set(0)
		r.logger.Error("configuration reload refused; the running configuration stays", "file", r.path, "error", err)
		return fmt.Errorf("reload %s: %w", r.path, err)
	}
	for _, what := range restartOnly(r.current.Load(), cfg) {
		r.logger.Warn("configuration reloaded, but this change takes effect at the next start", "change", what)
	}
	r.current.Store(cfg)
	r.ok.Set(1)
	r.at.SetToCurrentTime()
	r.logger.Info("configuration reloaded", "file", r.path, "destinations", len(cfg.Destinations), "sources", len(cfg.Sources))
	return nil
}

// restartOnly names what changed that a reload does not apply.
func restartOnly(old, cfg *config.Config) []string {
	var out []string
	if old.Server.Listen != cfg.Server.Listen {
		out = append(out, "server.listen")
	}
	if old.Storage.URL != cfg.Storage.URL {
		out = append(out, "storage.url")
	}
	if fmt.Sprint(apiTokenNames(old)) != fmt.Sprint(apiTokenNames(cfg)) {
		out = append(out, "server.api_tokens")
	}
	if fmt.Sprint(sourceNames(old)) != fmt.Sprint(sourceNames(cfg)) {
		out = append(out, "sources (added or removed; the settings of those kept are applied)")
	}
	return out
}

func apiTokenNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Server.APITokens))
	for i, t := range cfg.Server.APITokens {
		out[i] = t.Name
	}
	return out
}

// hookSwitch serves the Jira webhook receiver of the configuration in
// force; with no two-way destination, none (404), as if the route were
// absent.
type hookSwitch struct{ h atomic.Pointer[http.Handler] }

func (s *hookSwitch) set(h *inbound.Handler) {
	var hh http.Handler
	if h != nil {
		hh = h
	}
	s.h.Store(&hh)
}

func (s *hookSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := *s.h.Load(); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	apierror.Write(w, &apierror.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no destination takes Jira webhooks"})
}
