package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/lifecycle"
)

// jiraEnv is what every Jira destination of one process shares: one Site
// per Jira site, so that destinations on the same site spend one request
// budget and honour one Retry-After; one HTTP transport; one client per
// destination; and the in-process sandbox, started the first time a
// destination asks for it.
type jiraEnv struct {
	sites  *jira.Sites
	http   *http.Client
	logger *slog.Logger

	mu      sync.Mutex
	sandbox *sandbox.Sandbox

	clientsMu sync.Mutex // held while a client is built, apart from mu, which startSandbox takes
	clients   map[string]jiraClient

	metrics *jiraMetrics // nil: the clients report nothing
}

// jiraClient is one destination's client and the site it draws from.
type jiraClient struct {
	c    *jira.Client
	site *jira.Site
}

func newJiraEnv(logger *slog.Logger) *jiraEnv {
	return &jiraEnv{sites: jira.NewSites(), http: &http.Client{Transport: destination.Transport()}, logger: logger,
		clients: map[string]jiraClient{}}
}

// observe makes the clients built from now on count their requests in
// reg.
func (e *jiraEnv) observe(reg prometheus.Registerer) {
	e.metrics = newJiraMetrics(reg)
	e.metrics.logger = e.logger
}

// jiraMetrics are the jira.Observer of every client: requests by site,
// kind and status class, and the Retry-After windows of each site.
type jiraMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	windows  *prometheus.CounterVec
	closed   *prometheus.CounterVec
	reasons  *prometheus.CounterVec
	logger   *slog.Logger
}

func newJiraMetrics(reg prometheus.Registerer) *jiraMetrics {
	m := &jiraMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_jira_requests_total",
			Help: "Requests sent to Jira by site, kind and code (2xx, 4xx, 429, 5xx, or error: no answer).",
		}, []string{"site", "kind", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "alertbridge_jira_request_duration_seconds",
			Help:    "Time Jira took to answer a request, by site and kind; the wait at the site's own limits is not in it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"site", "kind"}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_jira_rate_limit_windows_total",
			Help: "Times a 429 closed a Jira site that was open.",
		}, []string{"site"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_jira_rate_limited_seconds_total",
			Help: "Time Jira sites were closed by Retry-After, counted when each window opens or is lengthened.",
		}, []string{"site"}),
	}
	m.reasons = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertbridge_jira_rate_limit_reasons_total",
		Help: "429 answers from Jira by site and RateLimit-Reason (none: Jira gave no reason).",
	}, []string{"site", "reason"})
	reg.MustRegister(m.requests, m.duration, m.windows, m.closed, m.reasons)
	return m
}

// site starts a site's counters at zero, so that a rate of its errors or
// 429s is defined before the first one.
func (m *jiraMetrics) site(key string) {
	for _, k := range jira.RequestKinds() {
		for _, c := range jira.StatusClasses() {
			m.requests.WithLabelValues(key, string(k), c)
		}
	}
	m.windows.WithLabelValues(key)
	m.closed.WithLabelValues(key)
}

func (m *jiraMetrics) Request(site string, kind jira.RequestKind, status int, took time.Duration) {
	m.requests.WithLabelValues(site, string(kind), jira.StatusClass(status)).Inc()
	m.duration.WithLabelValues(site, string(kind)).Observe(took.Seconds())
}

// RateLimitReason counts and logs why Jira limited a site. The reason
// labels a metric, so an unexpected value is bounded to a short token.
func (m *jiraMetrics) RateLimitReason(site, reason string) {
	r := rateLimitReason(reason)
	m.reasons.WithLabelValues(site, r).Inc()
	if m.logger != nil {
		m.logger.Warn("Jira rate limited the site", "site", site, "reason", r)
	}
}

func rateLimitReason(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "none"
	}
	if len(s) > 40 || strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'))
	}) >= 0 {
		return "other"
	}
	return s
}

func (m *jiraMetrics) RateLimited(site string, opened bool, closed time.Duration) {
	if opened {
		m.windows.WithLabelValues(site).Inc()
	}
	m.closed.WithLabelValues(site).Add(closed.Seconds())
}

// Close stops the sandbox, if one was started.
func (e *jiraEnv) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sandbox != nil {
		_ = e.sandbox.Close()
		e.sandbox = nil
	}
}

func (e *jiraEnv) startSandbox(dep jira.Deployment) (*sandbox.Sandbox, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sandbox != nil {
		return e.sandbox, nil
	}
	sb, err := sandbox.Start(sandbox.Options{Deployment: dep, Users: sandboxUsers()})
	if err != nil {
		return nil, fmt.Errorf("start the Jira sandbox: %w", err)
	}
	e.sandbox = sb
	e.logger.Info("Jira sandbox running in this process: alerts for destinations with jira.url \"sandbox:\" become issues here",
		"url", sb.URL(), "deployment", string(dep), "browse", sb.URL()+"/browse/SEC-1")
	return sb, nil
}

func deploymentOf(s string) jira.Deployment {
	switch s {
	case config.DeploymentCloud:
		return jira.DeploymentCloud
	case config.DeploymentDataCenter:
		return jira.DeploymentDataCenter
	}
	return ""
}

// client returns the destination's Jira client, built on first use. The
// notifier, the sync and the webhook receiver share it, so the deployment
// is detected once per destination (a serverInfo request each otherwise)
// and what the client learns serves all three.
func (e *jiraEnv) client(name string, j *config.Jira) (*jira.Client, *jira.Site, error) {
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	if c, ok := e.clients[name]; ok {
		return c.c, c.site, nil
	}
	c, site, err := e.newClient(j)
	if err != nil {
		return nil, nil, err // not remembered: the next caller tries again
	}
	e.clients[name] = jiraClient{c: c, site: site}
	return c, site, nil
}

// resetClients forgets every destination's client, so that a reload builds
// them from its configuration (sites and their limits are kept), and
// returns what it forgot for restoreClients, should the reload be refused.
func (e *jiraEnv) resetClients() map[string]jiraClient {
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	old := e.clients
	e.clients = map[string]jiraClient{}
	return old
}

func (e *jiraEnv) restoreClients(old map[string]jiraClient) {
	e.clientsMu.Lock()
	defer e.clientsMu.Unlock()
	e.clients = old
}

func (e *jiraEnv) newClient(j *config.Jira) (*jira.Client, *jira.Site, error) {
	jc := jira.Config{
		BaseURL: j.URL, Deployment: deploymentOf(j.Deployment), AuthScheme: j.Auth,
		User: j.Email, Token: j.Token.Value(), HTTP: e.http, Timeout: j.Timeout,
		UserAgent: "alertbridge/" + version, Bulk: j.BulkCreate, Senders: j.MaxConcurrency,
	}
	if j.Sandbox() {
		dep := jc.Deployment
		if dep == "" {
			dep = jira.DeploymentCloud
		}
		sb, err := e.startSandbox(dep)
		if err != nil {
			return nil, nil, err
		}
		jc.BaseURL, jc.Deployment, jc.AuthScheme = sb.URL(), dep, config.AuthBasic
		jc.User, jc.Token = sandbox.DefaultUser.Email, sandbox.DefaultUser.Token
	}
	if e.metrics != nil {
		jc.Observer = e.metrics
		e.metrics.site(jira.SiteKey(jc.BaseURL))
	}
	site := e.sites.Get(jc.BaseURL, j.RequestsPerSecond, j.MaxConcurrency)
	jc.Site = site
	return jira.New(jc), site, nil
}

func (e *jiraEnv) notifier(cfg *config.Config, d config.Destination) (*jiradest.Notifier, error) {
	j := d.Jira
	c, site, err := e.client(d.Name, j)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", d.Name, err)
	}
	return jiradest.New(jiradest.Config{
		Destination: d.Name, Client: c, Site: site,
		Project: j.Project, IssueType: j.IssueType, AssigneeID: j.AssigneeID,
		Labels: j.Labels, LabelsBySeverity: j.LabelsBySeverity, Priority: j.Priority,
		Summary: j.Summary, Description: j.Description, CustomFields: j.CustomFields, PublicURL: cfg.Server.PublicURL,
		SearchLag: j.SearchLag, SkipResolved: !j.CreateIfResolved,
	})
}

// sendTest sends the sample alert straight through one destination's
// notifier, without the queue or the database, and reports the outcome.
func sendTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("send-test", "send-test --config FILE DESTINATION", `
Sends a test alert (severity INFO, marked as a test) straight through
DESTINATION, one of the destinations[].name in FILE, without the queue or
the database, and reports what the destination answered: the issue it
created, or its error. Exit 0 when the destination took the alert, 1
otherwise.`, stdout, stderr)
	cfgPath := fs.configFlag()
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(1, "DESTINATION"); !ok {
		return code
	}
	name := fs.args[0]
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", *cfgPath, err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	env := newJiraEnv(logger)
	defer env.Close()
	notifiers, err := buildNotifiers(cfg, env)
	if err != nil {
		fmt.Fprintln(stderr, "alertbridge send-test:", err)
		return 1
	}
	n, ok := notifiers[name]
	if !ok {
		fmt.Fprintf(stderr, "alertbridge send-test: no destination named %q in %s\n", name, *cfgPath)
		return 1
	}
	a := lifecycle.TestAlert(time.Now().UTC())
	receipt, err := n.Notify(ctx, destination.Notification{Alert: a, Attempt: 1, Test: true})
	if err != nil {
		msg := err.Error()
		if d, ok := destination.RetryDelay(err); ok {
			msg += fmt.Sprintf(" (the destination asks to wait %s before trying again)", d)
		}
		fmt.Fprintf(stderr, "alertbridge send-test: %s: %s\n", name, msg)
		return 1
	}
	switch {
	case receipt.Issue != nil:
		fmt.Fprintf(stdout, "%s: created %s %s\n", name, receipt.Issue.Key, receipt.Issue.URL)
	default:
		fmt.Fprintf(stdout, "%s: delivered (%s)\n", name, receipt.Detail)
	}
	return 0
}

// checkJiraOnline asks each Jira destination's Jira whether the configured
// project, issue type, priorities and fields exist and are on the create
// screen, and returns every problem found.
func checkJiraOnline(ctx context.Context, cfg *config.Config, env *jiraEnv) []string {
	var problems []string
	for i, d := range cfg.Destinations {
		if d.Jira == nil {
			continue
		}
		at := fmt.Sprintf("destinations[%d] (%s).jira", i, d.Name)
		add := func(format string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(format, args...)) }
		c, _, err := env.client(d.Name, d.Jira)
		if err != nil {
			add("%v", err)
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, d.Jira.Timeout+30*time.Second)
		if _, err := c.Myself(ctx); err != nil {
			add("credentials: %v", err)
			cancel()
			continue
		}
		meta, err := c.CreateMeta(ctx, d.Jira.Project, d.Jira.IssueType)
		cancel()
		if err != nil {
			add("project %s: %v", d.Jira.Project, err)
			continue
		}
		problems = append(problems, createScreenProblems(at, d.Jira, meta)...)
	}
	return problems
}

// createScreenProblems compares a destination's fields with the create
// screen Jira describes.
func createScreenProblems(at string, j *config.Jira, meta *jira.CreateMeta) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(format, args...)) }
	if meta.IssueType == nil {
		names := make([]string, len(meta.IssueTypes))
		for i, t := range meta.IssueTypes {
			names[i] = t.Name
		}
		add("issue_type: project %s has no issue type %q (it has: %s)", j.Project, j.IssueType, strings.Join(names, ", "))
		return problems
	}
	onScreen := func(key, field, why string) *jira.FieldMeta {
		f := meta.Field(field)
		if f == nil {
			add("%s: the field %s is not on the create screen of %s in %s%s", key, field, j.IssueType, j.Project, why)
		}
		return f
	}
	onScreen("summary", "summary", "")
	onScreen("description", "description", " (add it, or issues get no description)")
	// The marker label is always sent: without labels on the screen every
	// create fails.
	onScreen("labels", "labels", " (alertbridge marks each issue with a label)")
	if j.AssigneeID != "" {
		onScreen("assignee_id", "assignee", "")
	}
	if len(j.Priority) > 0 {
		if f := onScreen("priority", "priority", ""); f != nil {
			for _, sev := range sortedSeverities(j.Priority) {
				if p := j.Priority[sev]; !f.Allows(p) {
					names := make([]string, len(f.AllowedValues))
					for i, v := range f.AllowedValues {
						names[i] = v.Name
					}
					add("priority.%s: Jira has no priority %q (it has: %s)", sev, p, strings.Join(names, ", "))
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(j.CustomFields)) {
		onScreen("custom_fields."+k, k, "")
	}
	for _, f := range meta.Fields {
		if !f.Required {
			continue
		}
		switch f.ID {
		case "summary", "project", "issuetype", "reporter", "description", "labels", "priority", "assignee":
			continue
		}
		if _, ok := j.CustomFields[f.ID]; !ok {
			add("custom_fields: %s (%s) is required on the create screen but not configured", f.ID, f.Name)
		}
	}
	return problems
}

func sortedSeverities(m map[alert.Severity]string) []alert.Severity {
	var out []alert.Severity
	for _, s := range alert.Severities {
		if _, ok := m[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// sandboxUsers are alertbridge's bot and the people a newcomer can act as,
// so that assignee sync (by e-mail) and every direction of sync can be
// tried without a Jira account.
func sandboxUsers() []sandbox.User {
	return append([]sandbox.User{sandbox.DefaultUser}, sandbox.People...)
}

// jiraSandbox runs the in-memory Jira on an address until interrupted.
func jiraSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("jira-sandbox", "jira-sandbox [--listen ADDR] [--deployment cloud|datacenter] [--webhook-url URL --webhook-secret-env VAR]", `
Runs an in-memory Jira (Cloud or Data Center REST API, with a browsable
issue page) until interrupted, for trying alertbridge without a Jira
account. It prints the destination settings that point at it. Nothing is
stored: issues are gone when it stops.`, stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "listen on `ADDR`")
	dep := fs.String("deployment", "cloud", "answer as Jira `KIND`: cloud or datacenter")
	hookURL := fs.String("webhook-url", "", "send Jira webhooks (issue and comment events) to `URL`")
	hookSecretEnv := fs.String("webhook-secret-env", "", "sign webhooks with the secret in the environment variable `VAR`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(0, ""); !ok {
		return code
	}
	d := deploymentOf(*dep)
	if d == "" {
		return fs.usageError("--deployment: want cloud or datacenter, not %q", *dep)
	}
	secret := ""
	if *hookSecretEnv != "" {
		if secret = os.Getenv(*hookSecretEnv); secret == "" {
			return fs.usageError("--webhook-secret-env: $%s is empty", *hookSecretEnv)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "alertbridge jira-sandbox: %v\n", err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	sb := sandbox.New(sandbox.Options{Deployment: d, BaseURL: base, WebhookURL: *hookURL, WebhookSecret: secret, Users: sandboxUsers()})
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	u, p := sandbox.DefaultUser, sandbox.People[0]
	// Cloud answers the old search path with 410 Gone, and takes ADF
	// comment bodies and account ids where Data Center takes wiki markup
	// and user names.
	api, search := "/rest/api/2", "/rest/api/2/search?jql=project=SEC"
	comment, assignee := `{"body":"looked at it"}`, fmt.Sprintf(`{"name":%q}`, p.Name)
	if d == jira.DeploymentCloud {
		api, search = "/rest/api/3", "/rest/api/3/search/jql?jql=project=SEC&fields=summary,status"
		comment = `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"looked at it"}]}]}}`
		assignee = fmt.Sprintf(`{"accountId":%q}`, p.AccountID)
	}
	var people []string
	for _, q := range sandbox.People {
		people = append(people, fmt.Sprintf("%s (%s, password %s)", q.Email, q.DisplayName, q.Token))
	}
	as := fmt.Sprintf("curl -s -u %s:%s -H 'Content-Type: application/json'", p.Email, p.Token)
	fmt.Fprintf(stdout, `Jira sandbox (%s) at %s
  point a destination at it:  jira: {url: %s, deployment: %s, email: %s, token_env: JIRA_TOKEN, project: SEC}
                              with JIRA_TOKEN=%s (a sandbox credential, not a secret)
  browse an issue:            %s/browse/SEC-1
  list issues:                curl -s -u %s:%s '%s%s'
  people to act as:           %s
  %-28stransition  %s %s%s/issue/SEC-1/transitions -d '{"transition":{"id":"31"}}'
                              assign      %s -X PUT %s%s/issue/SEC-1/assignee -d '%s'
                              comment     %s %s%s/issue/SEC-1/comment -d '%s'
Stop with Ctrl-C; everything is kept in memory only.
`, d, base, base, d, u.Email, u.Token, base, u.Email, u.Token, base, search,
		strings.Join(people, ", "), "act as "+p.Name+" in Jira:",
		as, base, api, as, base, api, assignee, as, base, api, comment)
	select {
	case <-ctx.Done():
	case err := <-errc:
		fmt.Fprintf(stderr, "alertbridge jira-sandbox: %v\n", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "alertbridge jira-sandbox: %v\n", err)
	}
	_ = sb.Close()
	return 0
}
