package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles behind --debug-listen
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/slack"
	"github.com/alertbridge/alertbridge/destination/webhook"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/httpapi"
	"github.com/alertbridge/alertbridge/jirasync"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/source/atlassian"
	"github.com/alertbridge/alertbridge/store"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, opts := serveFlags(stdout, stderr)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(0, ""); !ok {
		return code
	}
	cfgPath, debugListen := opts.config, opts.debugListen
	logger, err := newLogger(stderr, *opts.logFormat, *opts.logLevel)
	if err != nil {
		return fs.usageError("%v", err)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "alertbridge serve: %s:\n%v\n", *cfgPath, err)
		return 1
	}
	if *debugListen != "" {
		go func() {
			// pprof registers on http.DefaultServeMux, which nothing else uses.
			logger.Warn("debug listener stopped", "error", http.ListenAndServe(*debugListen, nil))
		}()
	}
	if err := runServer(ctx, *cfgPath, cfg, logger); err != nil {
		logger.Error("alertbridge stopped", "error", err)
		return 1
	}
	return 0
}

// serveOptions are serve's flags. They are set up apart from serve so that
// the systemd unit's test parses its ExecStart with the very same flags.
type serveOptions struct {
	config, logFormat, logLevel, debugListen *string
}

func serveFlags(stdout, stderr io.Writer) (*cmdFlags, serveOptions) {
	fs := newCmdFlags("serve", "serve --config FILE [--log-format json|text] [--log-level LEVEL] [--debug-listen ADDR]", `
Runs the service until SIGINT or SIGTERM: the HTTP API on server.listen
(/api/, /webhooks/jira/, /healthz, /readyz, /metrics) and the console
(/, /login), the delivery and
Jira sync workers, and the source pollers. On SIGTERM it stops taking
requests, lets those in flight and running deliveries finish (each step
bounded by server.shutdown_timeout), and exits 0. Logs go to stderr.
Exit 1 when the configuration does not load or the service fails.`, stdout, stderr)
	return fs, serveOptions{
		config:      fs.configFlag(),
		logFormat:   fs.String("log-format", "json", "write logs as `FORMAT`: json or text"),
		logLevel:    fs.String("log-level", "info", "log at `LEVEL` and above: debug, info, warn or error"),
		debugListen: fs.String("debug-listen", "", "serve Go's pprof profiles on `ADDR` (keep it private)"),
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want json or text, not %q", format)
}

// runServer runs until ctx ends, then shuts down in order: stop taking
// requests and finish those in flight, commit what the writers hold, let
// running deliveries finish, close the database. Each step is bounded by
// the configured shutdown timeout.
func runServer(ctx context.Context, cfgPath string, cfg *config.Config, logger *slog.Logger) error {
	st, err := store.Open(ctx, cfg.Storage.URL)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfoCollector(build))

	jenv := newJiraEnv(logger)
	defer jenv.Close()
	jenv.observe(reg)
	// Jira sites' Retry-After windows (and on PostgreSQL their pace) are
	// kept in the database, shared by every replica and by the next start.
	jenv.sites.SetBudget(store.NewJiraBudget(st))
	notifiers, err := buildNotifiers(cfg, jenv)
	if err != nil {
		return err
	}
	// Ingest and delivery outcomes share one group committer, and so share
	// commits: on SQLite every commit is a disk flush on the one writer.
	batch := lifecycle.DefaultBatcher(st)
	defer batch.Close() // for the early returns; shutdown closes it in order below
	rules, err := loadRules(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = rules.Close() }() // the pipeline's current set, if it got one, closes below
	sources, periodic := sourceJobs(cfg)
	sources.SetMetrics(atlassian.NewMetrics(reg, sourceNames(cfg)...))
	timeout := jobTimeout(cfg)
	jl, err := jobs.New(ctx, jobs.Config{
		DB: st.Handle(), ID: replicaID(cfg), Periodic: periodic,
		Queues:     map[string]int{delivery.Queue: 50, jirasync.Queue: 20, atlassian.Queue: atlassian.Workers},
		JobTimeout: timeout, Backoff: backoffFromEnv(logger), Logger: logger,
	})
	if err != nil {
		return err
	}
	reg.MustRegister(jl.Collector())
	sources.Register(jl)
	syncDests, err := syncDestinations(cfg, jenv)
	if err != nil {
		return err
	}
	syncer := jirasync.New(jl, st, syncDests, jirasync.Options{Logger: logger, Metrics: jirasync.NewMetrics(reg)})
	// The configuration in force; a reload replaces it.
	var current atomic.Pointer[config.Config]
	current.Store(cfg)
	var currentRules atomic.Pointer[ruleengine.RuleSet]
	currentRules.Store(rules)
	q := delivery.New(jl, st, delivery.Config{
		Batch:        batch,
		Notifiers:    notifiers,
		MaxAttempts:  func(dest string) int { return maxAttempts(current.Load())(dest) },
		AttemptBound: timeout,
		OnLinked:     syncer.OnLinked,
		Logger:       logger,
		Metrics:      delivery.NewMetrics(reg, st, destinationNames(cfg)...),
	})
	svc := lifecycle.New(st, q, serviceDestinations(cfg), lifecycle.Options{Batch: batch, OnChange: syncer.OnChange})
	pipeline := detection.New(detection.Config{Rules: rules, Service: svc, Logger: logger, Metrics: detection.NewMetrics(reg, rules)})
	defer pipeline.Close() // stops the rules' Python workers
	addPollers(cfg, sources, st, svc, pipeline, logger)
	hooks, err := jiraWebhooks(cfg, jenv, svc, st, logger)
	if err != nil {
		return err
	}
	var receiver hookSwitch
	receiver.set(hooks)
	reload := newReloader(cfgPath, cfg, reg, logger, func(next *config.Config) error {
		old := jenv.resetClients()
		notifiers, err := buildNotifiers(next, jenv)
		var (
			rules     *ruleengine.RuleSet
			syncDests []jirasync.Destination
			hooks     *inbound.Handler
		)
		if err == nil {
			rules, err = loadRules(next)
		}
		if err == nil {
			syncDests, err = syncDestinations(next, jenv)
		}
		if err == nil {
			hooks, err = jiraWebhooks(next, jenv, svc, st, logger)
		}
		if err != nil {
			jenv.restoreClients(old)
			if rules != nil {
				_ = rules.Close()
			}
			return err
		}
		current.Store(next)
		q.SetNotifiers(notifiers)
		syncer.SetDestinations(syncDests)
		svc.SetDestinations(serviceDestinations(next))
		pipeline.SetRules(rules)
		currentRules.Store(rules)
		receiver.set(hooks)
		addPollers(next, sources, st, svc, pipeline, logger)
		return nil
	})
	api := httpapi.New(httpapi.Config{
		Service: svc, Store: st, Tokens: apiTokens(cfg), Logger: logger, Registry: reg,
		IngestRate: cfg.Server.IngestRate, IngestBurst: cfg.Server.IngestBurst,
		Detections: pipeline, Reload: func(context.Context) error { return reload.reload() },
	})
	api.Handle(inbound.Pattern, &receiver)
	ui, signIn, err := newConsole(ctx, cfg, &current, &currentRules, st, svc, logger)
	if err != nil {
		return err
	}
	signIn.Register(api)
	ui.Register(api)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = reload.reload() // logged and counted there
		}
	}()
	if len(cfg.Server.APITokens) == 0 {
		logger.Warn("no server.api_tokens configured: every /api/ request will be refused")
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	// The jobs outlive ctx: on SIGTERM they are stopped gracefully below,
	// letting deliveries in flight finish, rather than cancelled with ctx.
	q.Start(context.WithoutCancel(ctx))
	defer q.Close()
	if err := jl.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("alertbridge started", "version", version, "listen", ln.Addr().String(),
		"public_url", cfg.Server.PublicURL, "storage", st.Driver(), "destinations", len(cfg.Destinations))

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	logger.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.String())
	deadline := time.Now().Add(cfg.Server.ShutdownTimeout)
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("requests still running at the shutdown deadline", "error", err)
	}
	if err := jl.Stop(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("stopping the jobs", "error", err)
	}
	q.Close()
	// Last: the queue's workers record their outcomes through it.
	batch.Close()
	logger.Info("alertbridge stopped")
	return nil
}

func buildNotifiers(cfg *config.Config, jenv *jiraEnv) (map[string]destination.Notifier, error) {
	out := make(map[string]destination.Notifier, len(cfg.Destinations))
	for _, d := range cfg.Destinations {
		switch d.Type {
		case config.TypeJira:
			n, err := jenv.notifier(cfg, d)
			if err != nil {
				return nil, err
			}
			out[d.Name] = n
		case config.TypeWebhook:
			out[d.Name] = webhook.New(webhook.Config{
				URL: d.Webhook.URL, Secret: d.Webhook.Secret.Value(), Timeout: d.Webhook.Timeout, PublicURL: cfg.Server.PublicURL,
			})
		case config.TypeSlack:
			out[d.Name] = slack.New(slack.Config{
				WebhookURL: d.Slack.WebhookURL.Value(), Timeout: d.Slack.Timeout, PublicURL: cfg.Server.PublicURL,
			})
		default:
			return nil, fmt.Errorf("destination %s: type %s is not available in this build", d.Name, d.Type)
		}
	}
	return out, nil
}

func destinationNames(cfg *config.Config) []string {
	out := make([]string, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		out[i] = d.Name
	}
	return out
}

// sourceNames are the sources that poll, whose metrics start at zero.
func sourceNames(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Sources {
		if s.Type == config.SourceAtlassianAudit {
			out = append(out, s.Name)
		}
	}
	return out
}

func maxAttempts(cfg *config.Config) func(string) int {
	byName := map[string]int{}
	for _, d := range cfg.Destinations {
		if d.Webhook != nil {
			byName[d.Name] = d.Webhook.MaxAttempts
		}
	}
	return func(name string) int {
		if n := byName[name]; n > 0 {
			return n
		}
		return config.DefaultMaxAttempts
	}
}

// jobTimeout bounds one run of a job a little past the longest destination
// timeout, so River only steps in when a destination hangs beyond its own
// limit.
func jobTimeout(cfg *config.Config) time.Duration {
	longest := 10 * time.Second
	for _, d := range cfg.Destinations {
		switch {
		case d.Webhook != nil:
			longest = max(longest, d.Webhook.Timeout)
		case d.Slack != nil:
			longest = max(longest, d.Slack.Timeout)
		case d.Jira != nil:
			longest = max(longest, d.Jira.Timeout)
		}
	}
	return longest + 30*time.Second
}

// replicaID names this replica to the others: stable across restarts, so
// that a restarted replica takes back at once the jobs it was running, and
// distinct between replicas on one host, which listen on different ports.
func replicaID(cfg *config.Config) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "alertbridge"
	}
	return host + "/" + cfg.Server.Listen
}

func serviceDestinations(cfg *config.Config) []lifecycle.Destination {
	out := make([]lifecycle.Destination, len(cfg.Destinations))
	for i, d := range cfg.Destinations {
		out[i] = lifecycle.Destination{
			Destination:    route.Destination{Name: d.Name, Severities: d.Severities, AlertTypes: d.AlertTypes, LogTypes: d.LogTypes},
			Type:           d.Type,
			ManualDispatch: d.ManualDispatch,
			IssuePerGroup:  d.Jira != nil && d.Jira.IssuePer == config.IssuePerGroup,
		}
	}
	return out
}

func apiTokens(cfg *config.Config) []httpapi.Token {
	out := make([]httpapi.Token, len(cfg.Server.APITokens))
	for i, t := range cfg.Server.APITokens {
		out[i] = httpapi.Token{Name: t.Name, Value: t.Token.Value(), Scopes: t.Scopes}
	}
	return out
}

// backoffFromEnv reads ALERTBRIDGE_RETRY_BACKOFF, a fixed base for the
// retry schedule (jittered by half), so that fault tests and drills run in
// seconds rather than the production schedule's minutes. Unset: the
// production schedule.
func backoffFromEnv(logger *slog.Logger) func(int) time.Duration {
	v := os.Getenv("ALERTBRIDGE_RETRY_BACKOFF")
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		logger.Warn("ignoring ALERTBRIDGE_RETRY_BACKOFF: want a positive duration like 200ms", "value", v)
		return nil
	}
	return func(int) time.Duration { return d/2 + rand.N(d/2+1) }
}
