package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/destination/jiradest"
)

// Secret values used throughout; tests assert none of them ever leaks.
const (
	apiToken      = "tok-API-0001"
	panther       = "tok-PANTHER-0002"
	jiraToken     = "tok-JIRA-0003"
	webhookSecret = "tok-JIRAHOOK-0004"
	hookSecret    = "tok-HOOK-0005"
	slackURL      = "https://hooks.slack.com/services/T0/B0/tok-SLACK-0006"
	atlassianKey  = "tok-ATLASSIAN-0007"
	oidcSecret    = "tok-OIDC-0009"
	// aliceHash is bcrypt (cost 10) of "full-config-password".
	aliceHash = "$2a$10$VJVV6YWXezLWx/1NX4wogeb5uNIWmg14Pvm5Vfrw8.uVJHnUKnI3S"
)

var allSecrets = []string{apiToken, panther, jiraToken, webhookSecret, hookSecret, slackURL, atlassianKey, oidcSecret, aliceHash}

// testEnv holds the variables and files every test config may refer to.
func testEnv() Env {
	vars := map[string]string{
		"ALERTBRIDGE_API_TOKEN": apiToken,
		"JIRA_TOKEN":            jiraToken,
		"JIRA_WEBHOOK_SECRET":   webhookSecret,
		"HOOK_SECRET":           hookSecret,
		"ATLASSIAN_API_KEY":     atlassianKey,
		"EMPTY":                 "",
		"NOT_A_URL":             "tok-NOTURL-0008",
		"SLACK_URL":             slackURL,
		"ALICE_PASSWORD_HASH":   aliceHash,
		"OIDC_CLIENT_SECRET":    oidcSecret,
	}
	files := map[string]string{
		"/run/secrets/panther-token": panther + "\n",
		"/run/secrets/slack-url":     slackURL + "\r\n",
		"/run/secrets/empty":         "\n",
	}
	return fakeEnv(vars, files)
}

func fakeEnv(vars, files map[string]string) Env {
	return Env{
		LookupEnv: func(name string) (string, bool) {
			v, ok := vars[name]
			return v, ok
		},
		ReadFile: func(path string) ([]byte, error) {
			v, ok := files[path]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
			}
			return []byte(v), nil
		},
	}
}

func readFull(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src), testEnv())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not a *Problems", err, err)
	}
	return *ps
}

func TestParseFull(t *testing.T) {
	got, err := Parse(readFull(t), testEnv())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Server: Server{
			Listen:    "0.0.0.0:9090",
			PublicURL: "https://alerts.example.com",
			APITokens: []APIToken{
				{Name: "ci", Token: newSecret("env ALERTBRIDGE_API_TOKEN", apiToken), Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeTriage}},
				{Name: "panther", Token: newSecret("file /run/secrets/panther-token", panther), Scopes: []auth.Scope{auth.ScopeIngest}},
			},
			IngestRate:      50.5,
			IngestBurst:     100,
			ShutdownTimeout: 40 * time.Second,
			Console: Console{
				SessionTTL: 4 * time.Hour,
				Users:      []ConsoleUser{{Name: "alice@example.com", PasswordHash: newSecret("env ALICE_PASSWORD_HASH", aliceHash)}},
				OIDC: &OIDC{IssuerURL: "https://idp.example.com/realms/sec", ClientID: "alertbridge",
					ClientSecret: newSecret("env OIDC_CLIENT_SECRET", oidcSecret), UsernameClaim: "preferred_username", Scopes: []string{"email", "profile"}},
			},
		},
		Storage: Storage{URL: "postgres://alertbridge@db.example.com:5432/alertbridge"},
		Destinations: []Destination{
			{
				Name:           "sec-jira",
				Type:           TypeJira,
				Severities:     []alert.Severity{alert.SeverityCritical, alert.SeverityHigh, alert.SeverityMedium},
				AlertTypes:     alert.Types,
				LogTypes:       []string{"Atlassian.Audit"},
				ManualDispatch: true,
				Jira: &Jira{
					URL:              "https://example.atlassian.net",
					Deployment:       DeploymentCloud,
					Auth:             AuthBasic,
					Email:            "bot@example.com",
					Token:            newSecret("env JIRA_TOKEN", jiraToken),
					Project:          "SEC",
					IssueType:        "Bug",
					AssigneeID:       "5f8f26dabd12345678910abcd",
					Labels:           []string{"security-detection", "alertbridge"},
					LabelsBySeverity: map[alert.Severity][]string{alert.SeverityCritical: {"p0", "page"}},
					Priority: map[alert.Severity]string{
						alert.SeverityCritical: "Highest", alert.SeverityHigh: "High",
						alert.SeverityMedium: "Medium", alert.SeverityLow: "Low",
					},
					Summary:     "{{.Severity}}: {{.Title}}",
					Description: "{{ markdown .Description }}\n\nTeam: {{ .Labels.team | default \"none\" | markdownEscape }}\n",
					CustomFields: map[string]any{
						"customfield_10010": "value",
						"customfield_10040": map[string]any{"value": `{{ .Labels.team | default "none" }}`},
						"customfield_10020": map[string]any{"id": "10001"},
						"customfield_10030": []any{int64(1), 2.5, true, nil},
					},
					Timeout:           45 * time.Second,
					MaxConcurrency:    2,
					RequestsPerSecond: 1.5, BulkCreate: true,
					Reopen:           ReopenTransition,
					CreateIfResolved: true,
					IssuePer:         IssuePerAlert,
					Sync: JiraSync{
						Status:   SyncOneWay,
						Assignee: SyncOff,
						Comments: SyncTwoWay,
						StatusMap: map[alert.Status]string{
							alert.StatusOpen: "To Do", alert.StatusTriaged: "In Progress",
							alert.StatusResolved: "Done", alert.StatusClosed: "Closed",
						},
						WebhookSecret: newSecret("env JIRA_WEBHOOK_SECRET", webhookSecret),
					},
				},
			},
			{
				Name:       "soc-hook",
				Type:       TypeWebhook,
				Severities: []alert.Severity{alert.SeverityCritical, alert.SeverityHigh},
				AlertTypes: alert.Types,
				Webhook: &Webhook{
					URL:         "https://hooks.example.com/alerts",
					Secret:      newSecret("env HOOK_SECRET", hookSecret),
					Timeout:     5 * time.Second,
					MaxAttempts: 3,
				},
			},
			{
				Name:       "chat",
				Type:       TypeSlack,
				Severities: alert.Severities,
				AlertTypes: []alert.Type{alert.TypeSystemError},
				Slack: &Slack{
					WebhookURL: newSecret("file /run/secrets/slack-url", slackURL),
					Timeout:    8 * time.Second,
				},
			},
		},
		Sources: []Source{{
			Name:               "atlassian-org",
			Type:               SourceAtlassianAudit,
			OrgID:              "00000000-0000-0000-0000-000000000000",
			APIKey:             newSecret("env ATLASSIAN_API_KEY", atlassianKey),
			BaseURL:            "http://127.0.0.1:9999",
			Endpoint:           EndpointEvents,
			PollInterval:       30 * time.Second,
			NoEventsAlertAfter: 12 * time.Hour,
			APIKeyExpires:      time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC),
		}},
		Detections: Detections{Paths: []string{"rules/", "/etc/alertbridge/rules"}},
	}
	compare(t, got, want)
}

// compare reports the first differing part, since a whole Config is too big
// to read in one message. Secrets print redacted, so they are compared by
// value separately.
func compare(t *testing.T, got, want *Config) {
	t.Helper()
	parts := []struct {
		name      string
		got, want any
	}{
		{"Server", got.Server, want.Server},
		{"Storage", got.Storage, want.Storage},
		{"Sources", got.Sources, want.Sources},
		{"Detections", got.Detections, want.Detections},
	}
	for i := range max(len(got.Destinations), len(want.Destinations)) {
		var g, w Destination
		if i < len(got.Destinations) {
			g = got.Destinations[i]
		}
		if i < len(want.Destinations) {
			w = want.Destinations[i]
		}
		parts = append(parts,
			struct {
				name      string
				got, want any
			}{fmt.Sprintf("Destinations[%d]", i), g, w})
		if g.Jira != nil && w.Jira != nil {
			parts = append(parts, struct {
				name      string
				got, want any
			}{fmt.Sprintf("Destinations[%d].Jira", i), *g.Jira, *w.Jira})
		}
	}
	for _, p := range parts {
		if !reflect.DeepEqual(p.got, p.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", p.name, p.got, p.want)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configs differ (a secret's value or source?)")
	}
}

// minimal has one destination of each type with only the required keys.
const minimal = `
destinations:
  - name: j
    type: jira
    jira:
      url: https://example.atlassian.net/
      email: bot@example.com
      token_env: JIRA_TOKEN
      project: SEC
  - name: w
    type: webhook
    webhook: {url: "http://localhost:9000/hook"}
  - name: s
    type: slack
    slack: {webhook_url_file: /run/secrets/slack-url}
sources:
  - name: org
    type: atlassian_audit
    org_id: o-1
    api_key_env: ATLASSIAN_API_KEY
`

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, minimal)
	wantServer := Server{
		Listen: "127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080",
		IngestRate: 2000, IngestBurst: 4000, ShutdownTimeout: 25 * time.Second,
		Console: Console{SessionTTL: 12 * time.Hour},
	}
	if !reflect.DeepEqual(cfg.Server, wantServer) {
		t.Errorf("Server = %+v, want %+v", cfg.Server, wantServer)
	}
	if cfg.Storage.URL != DefaultStorageURL || cfg.Storage.Driver() != "sqlite" || cfg.Storage.SQLitePath() != "./alertbridge.db" {
		t.Errorf("Storage = %+v (%s, %s)", cfg.Storage.URL, cfg.Storage.Driver(), cfg.Storage.SQLitePath())
	}

	j, _ := cfg.Destination("j")
	if !reflect.DeepEqual(j.Severities, alert.Severities) || !reflect.DeepEqual(j.AlertTypes, alert.Types) ||
		j.LogTypes != nil || j.ManualDispatch {
		t.Errorf("destination filters = %v %v %v %v", j.Severities, j.AlertTypes, j.LogTypes, j.ManualDispatch)
	}
	wantJira := Jira{
		URL: "https://example.atlassian.net", Deployment: DeploymentAuto, Auth: AuthBasic,
		Email: "bot@example.com", Token: j.Jira.Token, Project: "SEC", IssueType: "Task",
		Labels: []string{"security-detection"}, Summary: "[{{.Severity}}] {{.Title}}", Description: jiradest.DefaultDescription,
		Timeout: 30 * time.Second, MaxConcurrency: 4, RequestsPerSecond: 10, BulkCreate: true, Reopen: ReopenTransition, CreateIfResolved: true, IssuePer: IssuePerAlert,
		Sync: JiraSync{
			Status: SyncOff, Assignee: SyncOff, Comments: SyncOff,
			StatusMap: map[alert.Status]string{
				alert.StatusOpen: "To Do", alert.StatusTriaged: "In Progress",
				alert.StatusResolved: "Done", alert.StatusClosed: "Done",
			},
		},
	}
	if !reflect.DeepEqual(*j.Jira, wantJira) {
		t.Errorf("Jira =\n%+v\nwant\n%+v", *j.Jira, wantJira)
	}
	if j.Webhook != nil || j.Slack != nil {
		t.Errorf("jira destination has other type blocks: %v %v", j.Webhook, j.Slack)
	}

	w, _ := cfg.Destination("w")
	if want := (Webhook{URL: "http://localhost:9000/hook", Timeout: 10 * time.Second, MaxAttempts: 12}); *w.Webhook != want {
		t.Errorf("Webhook = %+v, want %+v", *w.Webhook, want)
	}
	if w.Webhook.Secret.IsSet() {
		t.Errorf("webhook secret is set without a key")
	}
	s, _ := cfg.Destination("s")
	if s.Slack.Timeout != 10*time.Second || s.Slack.WebhookURL.Value() != slackURL {
		t.Errorf("Slack = %+v (value ok: %v)", *s.Slack, s.Slack.WebhookURL.Value() == slackURL)
	}

	src := cfg.Sources[0]
	if src.BaseURL != "https://api.atlassian.com" || src.Endpoint != EndpointEventsStream ||
		src.PollInterval != time.Minute || src.NoEventsAlertAfter != 24*time.Hour || !src.APIKeyExpires.IsZero() {
		t.Errorf("Source = %+v", src)
	}
}

func TestEmptyConfigIsAllDefaults(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n", "{}"} {
		cfg := mustParse(t, src)
		if cfg.Server.Listen != DefaultListen || cfg.Storage.URL != DefaultStorageURL || cfg.Destinations != nil {
			t.Errorf("%q: %+v", src, cfg)
		}
	}
}

// TestParseAccepts covers input that looks unusual but is right.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(*Config) bool
	}{
		{"wildcard listen gives a followable public URL", "server: {listen: ':9000'}",
			func(c *Config) bool { return c.Server.PublicURL == "http://localhost:9000" }},
		{"ipv6 wildcard listen", "server: {listen: '[::]:9000'}",
			func(c *Config) bool { return c.Server.PublicURL == "http://localhost:9000" }},
		{"postgresql scheme", "storage: {url: 'postgresql://u@h/db'}",
			func(c *Config) bool { return c.Storage.Driver() == "postgres" && c.Storage.SQLitePath() == "" }},
		{"absolute sqlite path", "storage: {url: 'sqlite:///var/lib/ab.db'}",
			func(c *Config) bool { return c.Storage.SQLitePath() == "/var/lib/ab.db" }},
		{"RFC 3339 expiry", strings.Replace(minimal, "org_id: o-1", "org_id: o-1\n    api_key_expires: 2027-03-31T12:00:00+02:00", 1),
			func(c *Config) bool {
				return c.Sources[0].APIKeyExpires.Equal(time.Date(2027, 3, 31, 10, 0, 0, 0, time.UTC))
			}},
		{"quoted expiry date", strings.Replace(minimal, "org_id: o-1", "org_id: o-1\n    api_key_expires: '2027-03-31'", 1),
			func(c *Config) bool { return c.Sources[0].APIKeyExpires.Year() == 2027 }},
		{"enums are case-insensitive", jiraDest("", "deployment: DataCenter\nauth: Bearer\nsync: {status: One-Way}"),
			func(c *Config) bool {
				j := c.Destinations[0].Jira
				return j.Deployment == DeploymentDataCenter && j.Auth == AuthBearer && j.Sync.Status == SyncOneWay
			}},
		{"bearer needs no email", strings.Replace(jiraDest("", "auth: bearer"), "      email: bot@example.com\n", "", 1),
			func(c *Config) bool { return c.Destinations[0].Jira.Email == "" }},
		{"empty labels mean none", jiraDest("", "labels: []"),
			func(c *Config) bool { return len(c.Destinations[0].Jira.Labels) == 0 }},
		{"repeated severities collapse", jiraDest("severities: [high, HIGH]", ""),
			func(c *Config) bool {
				return reflect.DeepEqual(c.Destinations[0].Severities, []alert.Severity{alert.SeverityHigh})
			}},
		{"numeric project key and assignee", strings.Replace(jiraDest("", "assignee_id: 42"), "project: SEC", "project: 10000", 1),
			func(c *Config) bool {
				return c.Destinations[0].Jira.Project == "10000" && c.Destinations[0].Jira.AssigneeID == "42"
			}},
		{"two-way with a secret file", jiraDest("", "sync: {assignee: two-way, webhook_secret_file: /run/secrets/panther-token}"),
			func(c *Config) bool { return c.Destinations[0].Jira.Sync.WebhookSecret.Value() == panther }},
		{"merge keys share settings", `
destinations:
  - name: a
    type: jira
    jira: &base
      url: https://example.atlassian.net
      email: bot@example.com
      token_env: JIRA_TOKEN
      project: SEC
  - name: b
    type: jira
    jira:
      <<: *base
      project: OPS
`, func(c *Config) bool {
			return c.Destinations[1].Jira.Project == "OPS" && c.Destinations[1].Jira.URL == "https://example.atlassian.net"
		}},
		{"null values take defaults", "server: {listen: ~, shutdown_timeout: }",
			func(c *Config) bool {
				return c.Server.Listen == DefaultListen && c.Server.ShutdownTimeout == 25*time.Second
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if cfg := mustParse(t, tt.src); !tt.check(cfg) {
				t.Errorf("unexpected config: %+v", cfg)
			}
		})
	}
}

// jiraDest is a valid Jira destination with extra lines at the destination
// level and in its jira block.
func jiraDest(destLines, jiraLines string) string {
	return "destinations:\n  - name: sec-jira\n    type: jira\n" + indent(4, destLines) +
		"    jira:\n      url: https://example.atlassian.net\n      email: bot@example.com\n" +
		"      token_env: JIRA_TOKEN\n      project: SEC\n" + indent(6, jiraLines)
}

func webhookDest(lines string) string {
	return "destinations:\n  - name: hook\n    type: webhook\n    webhook:\n      url: https://hooks.example.com/a\n" + indent(6, lines)
}

func source(lines string) string {
	return "sources:\n  - name: org\n    type: atlassian_audit\n    org_id: o-1\n    api_key_env: ATLASSIAN_API_KEY\n" + indent(4, lines)
}

func indent(n int, s string) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad) + "\n"
}

// TestRules has one case per validation rule. Each config is valid except
// for one mistake, and must yield exactly that one problem.
func TestRules(t *testing.T) {
	tests := []struct {
		name string
		src  string
		path string
		msg  string // the message must contain this
	}{
		// Unknown keys, and inline secrets.
		{"unknown top-level key", "severs: {}", "severs", "unknown key (did you mean server"},
		{"unknown server key", "server: {listne: ':1'}", "server.listne", "unknown key (did you mean listen?)"},
		{"unknown key far off", "server: {colour: red}", "server.colour", "unknown key"},
		{"unknown jira key", jiraDest("", "projct: X"), "destinations[0].jira.projct", "unknown key (did you mean project?)"},
		{"unknown sync key", jiraDest("", "sync: {stauts: off}"), "destinations[0].jira.sync.stauts", "unknown key"},
		{"unknown rate limit key", "server: {ingest_rate_limit: {rate: 1}}", "server.ingest_rate_limit.rate", "unknown key"},
		{"inline jira token", jiraDest("", "token: abc"), "destinations[0].jira.token",
			"unknown key: secrets are read only from token_env or token_file"},
		{"inline api key", source("api_key: abc"), "sources[0].api_key",
			"secrets are read only from api_key_env or api_key_file"},
		{"inline api token", "server: {api_tokens: [{name: ci, token_env: JIRA_TOKEN, token: x}]}", "server.api_tokens[0].token",
			"secrets are read only from token_env or token_file"},
		{"inline slack url", "destinations: [{name: s, type: slack, slack: {webhook_url_env: SLACK_URL, webhook_url: x}}]",
			"destinations[0].slack.webhook_url", "secrets are read only from webhook_url_env or webhook_url_file"},
		{"duplicate YAML key", "server:\n  listen: ':1'\n  listen: ':2'\n", "server.listen", "duplicate key (first at line 2)"},

		// YAML types.
		{"string wanted", "server: {listen: [a]}", "server.listen", "want a string, got a list"},
		{"boolean is not a string", strings.Replace(jiraDest("", ""), "project: SEC", "project: true", 1), "destinations[0].jira.project", "want a string, got a boolean"},
		{"mapping wanted", "server: 8080", "server", "want a mapping, got a number"},
		{"list wanted", "destinations: {name: x}", "destinations", "want a list, got a mapping"},
		{"boolean wanted", jiraDest("manual_dispatch: 'yes'", ""), "destinations[0].manual_dispatch", "want true or false, got a string"},
		{"whole number wanted", jiraDest("", "max_concurrency: four"), "destinations[0].jira.max_concurrency", "want a whole number"},
		{"number wanted", "server: {ingest_rate_limit: {per_second: fast}}", "server.ingest_rate_limit.per_second", "want a number"},
		{"duration without unit", jiraDest("", "timeout: 30"), "destinations[0].jira.timeout", `want a duration with a unit, like "30s"`},
		{"bad duration", "server: {shutdown_timeout: soon}", "server.shutdown_timeout", "want a duration like"},
		{"empty list item", "detections: {paths: [a, ~]}", "detections.paths[1]", "empty list item"},
		{"tags are not interpreted", strings.Replace(jiraDest("", ""), "project: SEC", "project: !env PROJECT", 1), "destinations[0].jira.project", "tags are not interpreted"},

		// Vocabulary.
		{"unknown severity", jiraDest("severities: [high, hgih]", ""), "destinations[0].severities[1]",
			`unknown severity "hgih" (want one of INFO, LOW, MEDIUM, HIGH, CRITICAL)`},
		{"empty severities", jiraDest("severities: []", ""), "destinations[0].severities", "empty list matches no alert"},
		{"unknown alert type", jiraDest("alert_types: [RULES]", ""), "destinations[0].alert_types[0]", `unknown alert type "RULES"`},
		{"empty alert types", jiraDest("alert_types: []", ""), "destinations[0].alert_types", "empty list matches no alert"},
		{"unknown priority severity", jiraDest("", "priority: {URGENT: Highest}"), "destinations[0].jira.priority.URGENT", `unknown severity "URGENT"`},
		{"severity given twice", jiraDest("", "priority: {HIGH: High, high: Low}"), "destinations[0].jira.priority.high", "severity HIGH is given twice"},
		{"empty priority", jiraDest("", "priority: {HIGH: ''}"), "destinations[0].jira.priority.HIGH", "must not be empty"},
		{"unknown labels severity", jiraDest("", "labels_by_severity: {SEVERE: [x]}"), "destinations[0].jira.labels_by_severity.SEVERE", "unknown severity"},
		{"status map key", jiraDest("", "sync: {status_map: {OPNE: Open}}"), "destinations[0].jira.sync.status_map.OPNE",
			`unknown status "OPNE" (want one of OPEN, TRIAGED, RESOLVED, CLOSED)`},
		{"status map value", jiraDest("", "sync: {status_map: {OPEN: [a]}}"), "destinations[0].jira.sync.status_map.OPEN", "want a string"},
		{"unknown sync mode", jiraDest("", "sync: {comments: both}"), "destinations[0].jira.sync.comments", `unknown sync mode "both" (want one of off, one-way, two-way)`},
		{"unknown deployment", jiraDest("", "deployment: server"), "destinations[0].jira.deployment", `unknown deployment "server"`},
		{"unknown auth", jiraDest("", "auth: oauth"), "destinations[0].jira.auth", `unknown auth "oauth"`},

		// Names and types of destinations and sources.
		{"duplicate destination", jiraDest("", "") + "  - name: sec-jira\n    type: webhook\n    webhook: {url: 'https://h.example.com'}\n",
			"destinations[1].name", `duplicate destination name "sec-jira" (first at destinations[0])`},
		{"destination without name", "destinations: [{type: webhook, webhook: {url: 'https://h.example.com'}}]", "destinations[0].name", "required"},
		{"destination name with slash", "destinations: [{name: a/b, type: webhook, webhook: {url: 'https://h.example.com'}}]",
			"destinations[0].name", "may hold only letters"},
		{"unknown destination type", "destinations: [{name: e, type: email}]", "destinations[0].type",
			`unknown destination type "email" (want one of jira, webhook, slack)`},
		{"missing destination type", "destinations: [{name: e}]", "destinations[0].type", "required"},
		{"missing type block", "destinations: [{name: e, type: webhook}]", "destinations[0].webhook", "required when type is webhook"},
		{"block of another type", jiraDest("webhook: {url: 'https://h.example.com'}", ""), "destinations[0].webhook", "only allowed when type is webhook"},
		{"duplicate source", source("") + "  - name: org\n    type: atlassian_audit\n    org_id: o-2\n    api_key_env: ATLASSIAN_API_KEY\n",
			"sources[1].name", `duplicate source name "org" (first at sources[0])`},
		{"unknown source type", strings.Replace(source(""), "atlassian_audit", "okta", 1), "sources[0].type", `unknown source type "okta"`},
		{"source org_id required", strings.Replace(source(""), "    org_id: o-1\n", "", 1), "sources[0].org_id", "required"},
		{"source api key required", strings.Replace(source(""), "    api_key_env: ATLASSIAN_API_KEY\n", "", 1), "sources[0].api_key",
			"required: set api_key_env or api_key_file"},
		{"unknown endpoint", source("endpoint: stream"), "sources[0].endpoint", `unknown endpoint "stream"`},
		{"bad expiry date", source("api_key_expires: next year"), "sources[0].api_key_expires", "want a date like 2026-12-31"},

		// URLs.
		{"jira url without scheme", strings.Replace(jiraDest("", ""), "https://example.atlassian.net", "example.atlassian.net", 1),
			"destinations[0].jira.url", "must be an absolute http or https URL"},
		{"jira url with variable", strings.Replace(jiraDest("", ""), "https://example.atlassian.net", "${JIRA_URL}", 1),
			"destinations[0].jira.url", "${VAR} is never expanded"},
		{"jira url required", strings.Replace(jiraDest("", ""), "url: https://example.atlassian.net", "url: ''", 1),
			"destinations[0].jira.url", "required"},
		{"webhook url scheme", "destinations: [{name: h, type: webhook, webhook: {url: 'ftp://h.example.com'}}]",
			"destinations[0].webhook.url", "must be an absolute http or https URL"},
		{"unparsable url", "server: {public_url: 'http://h:port'}", "server.public_url", "not a valid URL"},
		{"source base url", source("base_url: /relative"), "sources[0].base_url", "must be an absolute http or https URL"},
		{"slack url from secret", "destinations: [{name: s, type: slack, slack: {webhook_url_env: NOT_A_URL}}]",
			"destinations[0].slack.webhook_url", "the secret from env NOT_A_URL is not an absolute http or https URL"},
		{"slack url required", "destinations: [{name: s, type: slack, slack: {}}]",
			"destinations[0].slack.webhook_url", "required: set webhook_url_env or webhook_url_file"},

		// Durations and numbers.
		{"jira timeout too long", jiraDest("", "timeout: 301s"), "destinations[0].jira.timeout", "must be at most 5m0s"},
		{"jira timeout zero", jiraDest("", "timeout: 0s"), "destinations[0].jira.timeout", "must be positive"},
		{"webhook timeout too long", webhookDest("timeout: 10m"), "destinations[0].webhook.timeout", "must be at most 5m0s"},
		{"slack timeout negative", "destinations: [{name: s, type: slack, slack: {webhook_url_env: SLACK_URL, timeout: -1s}}]",
			"destinations[0].slack.timeout", "must be positive"},
		{"negative shutdown timeout", "server: {shutdown_timeout: -5s}", "server.shutdown_timeout", "must be positive"},
		{"poll interval too short", source("poll_interval: 500ms"), "sources[0].poll_interval", "must be at least 1s"},
		{"zero no-events window", source("no_events_alert_after: 0s"), "sources[0].no_events_alert_after", "must be positive"},
		{"zero concurrency", jiraDest("", "max_concurrency: 0"), "destinations[0].jira.max_concurrency", "must be at least 1"},
		{"zero request rate", jiraDest("", "requests_per_second: 0"), "destinations[0].jira.requests_per_second", "must be greater than 0"},
		{"infinite ingest rate", "server: {ingest_rate_limit: {per_second: .inf}}", "server.ingest_rate_limit.per_second", "want a finite number"},
		{"zero burst", "server: {ingest_rate_limit: {burst: 0}}", "server.ingest_rate_limit.burst", "must be at least 1"},
		{"zero webhook attempts", webhookDest("max_attempts: 0"), "destinations[0].webhook.max_attempts", "must be at least 1"},

		// Jira specifics.
		{"summary does not parse", jiraDest("", "summary: '{{.Title'"), "destinations[0].jira.summary", "template does not parse"},
		{"summary names a missing field", jiraDest("", "summary: '[{{.Severity}}] {{.Titel}}'"), "destinations[0].jira.summary",
			`template: summary:1:18: executing "summary" at <.Titel>: can't evaluate field Titel`},
		{"description names a missing function", jiraDest("", "description: '{{ .Title | upper }}'"), "destinations[0].jira.description",
			`template does not parse: template: description:1: function "upper" not defined`},
		{"description fails on the sample", jiraDest("", "description: '{{ .Context.nope.deeper }}'"), "destinations[0].jira.description",
			"nil pointer evaluating interface {}.deeper (rendering a sample alert)"},
		{"label template fails", jiraDest("", "labels: [ok, '{{ .Lables.team }}']"), "destinations[0].jira.labels[1]",
			`template: labels[1]:1:10: executing "labels[1]" at <.Lables.team>: can't evaluate field Lables`},
		{"label template renders empty", jiraDest("", "labels: ['{{ .Labels.nope }}']"), "destinations[0].jira.labels[0]",
			"label is empty (rendering a sample alert)"},
		{"label template renders a space", jiraDest("", "labels_by_severity: {HIGH: ['{{ .Name }}']}"), "destinations[0].jira.labels_by_severity.HIGH[0]",
			`label "Test Alert" contains a space, which Jira does not allow (rendering a sample alert)`},
		{"custom field template fails", jiraDest("", "custom_fields: {customfield_1: {value: ok, other: ['{{ .Nope }}']}}"),
			"destinations[0].jira.custom_fields.customfield_1.other[0]", `template: custom_fields.customfield_1.other[0]:1:3: executing`},
		{"label with space", jiraDest("", "labels: [ok, 'not ok']"), "destinations[0].jira.labels[1]", `label "not ok" contains a space`},
		{"severity label with tab", jiraDest("", "labels_by_severity: {HIGH: [\"a\\tb\"]}"), "destinations[0].jira.labels_by_severity.HIGH[0]", "contains a space"},
		{"basic auth needs email", strings.Replace(jiraDest("", ""), "      email: bot@example.com\n", "", 1),
			"destinations[0].jira.email", "required when auth is basic"},
		{"project required", strings.Replace(jiraDest("", ""), "      project: SEC\n", "", 1), "destinations[0].jira.project", "required"},
		{"token required", strings.Replace(jiraDest("", ""), "      token_env: JIRA_TOKEN\n", "", 1), "destinations[0].jira.token",
			"required: set token_env or token_file"},
		{"two-way without webhook secret", jiraDest("", "sync: {comments: two-way}"), "destinations[0].jira.sync.webhook_secret",
			"required when any sync is two-way"},
		{"custom field infinity", jiraDest("", "custom_fields: {customfield_1: [.nan]}"), "destinations[0].jira.custom_fields.customfield_1[0]",
			"want a finite number"},

		// API tokens.
		{"token without name", "server: {api_tokens: [{token_env: JIRA_TOKEN}]}", "server.api_tokens[0].name", "required"},
		{"token without token", "server: {api_tokens: [{name: ci}]}", "server.api_tokens[0].token", "required: set token_env or token_file"},
		{"duplicate token names", "server: {api_tokens: [{name: ci, token_env: JIRA_TOKEN}, {name: ci, token_env: HOOK_SECRET}]}",
			"server.api_tokens[1].name", `duplicate token name "ci" (first at server.api_tokens[0])`},

		// Server and storage.
		{"listen without port", "server: {listen: localhost}", "server.listen", "want host:port"},
		{"listen with bad port", "server: {listen: 'localhost:http'}", "server.listen", "port must be a number"},
		{"unknown storage scheme", "storage: {url: 'mysql://u:pw@h/db'}", "storage.url", "want sqlite://PATH or postgres://"},
		{"sqlite without path", "storage: {url: 'sqlite://'}", "storage.url", "needs a file path"},
		{"detection path empty", "detections: {paths: ['']}", "detections.paths[0]", "must not be empty"},

		// Secrets.
		{"env var not set", jiraDest("", "sync: {webhook_secret_env: NOPE}"), "destinations[0].jira.sync.webhook_secret_env",
			"environment variable NOPE is not set"},
		{"env var empty", webhookDest("secret_env: EMPTY"), "destinations[0].webhook.secret_env", "environment variable EMPTY is empty"},
		{"env var name with braces", webhookDest("secret_env: ${HOOK_SECRET}"), "destinations[0].webhook.secret_env",
			"give the variable's name"},
		{"secret file missing", webhookDest("secret_file: /run/secrets/nope"), "destinations[0].webhook.secret_file",
			"cannot read secret file: open /run/secrets/nope: file does not exist"},
		{"secret file empty", webhookDest("secret_file: /run/secrets/empty"), "destinations[0].webhook.secret_file", "secret file /run/secrets/empty is empty"},
		{"env and file both", webhookDest("secret_env: HOOK_SECRET\nsecret_file: /run/secrets/panther-token"),
			"destinations[0].webhook.secret_file", "set only one of secret_env and secret_file"},

		// The file as a whole.
		{"two documents", "server: {}\n---\nstorage: {}\n", "", "one YAML document"},
		{"syntax error", "server: [\n", "", "invalid YAML: "},
		{"merge of a scalar", "server:\n  <<: 5\n", "server.<<", "a merge key wants a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), testEnv())
			if err == nil {
				t.Fatalf("no problem reported; want %s: %s", tt.path, tt.msg)
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 || ps[0].Path != tt.path || !strings.Contains(ps[0].Message, tt.msg) {
				t.Errorf("got problems:\n%v\nwant exactly one: %s: ...%s...", err, tt.path, tt.msg)
			}
		})
	}
}

func TestManyMistakesAllReported(t *testing.T) {
	src := `server:
  listne: 127.0.0.1:1
  api_tokens:
    - name: ci
storage:
  url: mysql://db
destinations:
  - name: sec-jira
    type: jira
    severities: [HIGH, hgih]
    jira:
      url: example.atlassian.net
      email: bot@example.com
      token: inline-value
      project: SEC
      timeout: 10m
      sync:
        status: two-way
        status_map: {OPNE: Open}
  - name: sec-jira
    type: webhook
    slack: {webhook_url_env: HOOK_SECRET}
    webhook: {url: 'https://h.example.com'}
sources:
  - name: org
    type: atlassian_audit
    api_key_env: MISSING_KEY
`
	_, err := Parse([]byte(src), testEnv())
	want := Problems{
		{Path: "server.listne", Message: "unknown key (did you mean listen?)", Line: 2},
		{Path: "server.api_tokens[0].token", Message: "required: set token_env or token_file", Line: 4},
		{Path: "storage.url", Message: "want sqlite://PATH or postgres://USER@HOST:PORT/DB", Line: 6},
		{Path: "destinations[0].severities[1]", Message: `unknown severity "hgih" (want one of INFO, LOW, MEDIUM, HIGH, CRITICAL)`, Line: 10},
		{Path: "destinations[0].jira.url", Message: "must be an absolute http or https URL", Line: 12},
		{Path: "destinations[0].jira.token", Message: "required: set token_env or token_file", Line: 12},
		{Path: "destinations[0].jira.token", Message: "unknown key: secrets are read only from token_env or token_file", Line: 14},
		{Path: "destinations[0].jira.timeout", Message: "must be at most 5m0s", Line: 16},
		{Path: "destinations[0].jira.sync.webhook_secret", Message: "required when any sync is two-way: set webhook_secret_env or webhook_secret_file", Line: 18},
		{Path: "destinations[0].jira.sync.status_map.OPNE", Message: `unknown status "OPNE" (want one of OPEN, TRIAGED, RESOLVED, CLOSED)`, Line: 19},
		{Path: "destinations[1].name", Message: `duplicate destination name "sec-jira" (first at destinations[0])`, Line: 20},
		{Path: "destinations[1].slack", Message: "only allowed when type is slack", Line: 22},
		{Path: "sources[0].org_id", Message: "required", Line: 25},
		{Path: "sources[0].api_key_env", Message: "environment variable MISSING_KEY is not set", Line: 27},
	}
	got := problemsOf(t, err)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i := range min(len(got), len(want)) {
		g := got[i]
		if g.Path != want[i].Path || g.Message != want[i].Message || g.Line != want[i].Line {
			t.Errorf("problem %d:\n got %s\nwant %s", i, g.Error(), want[i].Error())
		}
	}
	if strings.Contains(err.Error(), "inline-value") {
		t.Errorf("an inline secret's value appears in the problems:\n%v", err)
	}
}

func TestProblemsRendering(t *testing.T) {
	ps := Problems{
		{Path: "destinations[1].severities[0]", Message: `unknown severity "hgih"`},
		{Path: "server.listen", Message: "want host:port", Line: 3},
		{Message: "invalid YAML: line 1: oops"},
	}
	want := "destinations[1].severities[0]: unknown severity \"hgih\"\n" +
		"server.listen: want host:port (line 3)\n" +
		"invalid YAML: line 1: oops"
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	cfg, err := Parse(readFull(t), testEnv())
	if err != nil {
		t.Fatal(err)
	}
	var dumps []string
	for _, v := range []any{cfg, *cfg, cfg.Server, cfg.Destinations, cfg.Sources,
		*cfg.Destinations[0].Jira, cfg.Destinations[0].Jira.Sync, *cfg.Destinations[1].Webhook, *cfg.Destinations[2].Slack} {
		dumps = append(dumps, fmt.Sprintf("%v %+v %#v %s %q %x %d", v, v, v, v, v, v, v))
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		dumps = append(dumps, string(j))
		y, err := yaml.Marshal(v)
		if err != nil {
			t.Fatalf("yaml.Marshal(%T): %v", v, err)
		}
		dumps = append(dumps, string(y))
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("loaded", "token", cfg.Destinations[0].Jira.Token, "key", cfg.Sources[0].APIKey)
	dumps = append(dumps, logs.String())

	for _, dump := range dumps {
		for _, s := range allSecrets {
			if strings.Contains(dump, s) {
				t.Errorf("secret %q leaked into:\n%s", s, dump)
			}
		}
	}
	if !strings.Contains(logs.String(), redacted) {
		t.Errorf("log does not show the redaction marker: %s", logs.String())
	}
	// The values are still there for the code that needs them.
	if cfg.Destinations[0].Jira.Token.Value() != jiraToken {
		t.Errorf("Value() = %q", cfg.Destinations[0].Jira.Token.Value())
	}
}

func TestSecretsNeverInProblems(t *testing.T) {
	// Every secret is resolved, and the config still fails: the problems
	// must not carry any resolved value, even where the secret itself is
	// what is wrong.
	src := strings.Replace(string(readFull(t)), "webhook_url_file: /run/secrets/slack-url", "webhook_url_env: NOT_A_URL", 1) +
		"bogus: 1\n"
	_, err := Parse([]byte(src), testEnv())
	if err == nil {
		t.Fatal("want problems")
	}
	msg := err.Error()
	for _, s := range append(allSecrets, "tok-NOTURL-0008") {
		if strings.Contains(msg, s) {
			t.Errorf("secret %q in problems:\n%s", s, msg)
		}
	}
	if got := len(problemsOf(t, err)); got != 2 {
		t.Errorf("want 2 problems, got %d:\n%s", got, msg)
	}
}

func TestSecretResolution(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		vars  map[string]string
		files map[string]string
		want  string
	}{
		{"env", "secret_env: S", map[string]string{"S": " keep spaces "}, nil, " keep spaces "},
		{"file trailing newline", "secret_file: /s", nil, map[string]string{"/s": "abc\n"}, "abc"},
		{"file trailing CRLF and blanks", "secret_file: /s", nil, map[string]string{"/s": "abc \r\n"}, "abc"},
		{"file inner newline kept", "secret_file: /s", nil, map[string]string{"/s": "a\nb\n"}, "a\nb"},
		{"not given", "", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(webhookDest(tt.line)), fakeEnv(tt.vars, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Destinations[0].Webhook.Secret
			if s.Value() != tt.want || s.IsSet() != (tt.want != "") {
				t.Errorf("Value() = %q, IsSet() = %v; want %q", s.Value(), s.IsSet(), tt.want)
			}
		})
	}
}

func TestNilEnvResolvesNothing(t *testing.T) {
	_, err := Parse([]byte(webhookDest("secret_env: S")), Env{})
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Message, "S is not set") {
		t.Errorf("env: %v", err)
	}
	_, err = Parse([]byte(webhookDest("secret_file: /s")), Env{})
	if ps := problemsOf(t, err); len(ps) != 1 || !strings.Contains(ps[0].Message, "cannot read secret file") {
		t.Errorf("file: %v", err)
	}
}

func TestNewSecret(t *testing.T) {
	s := NewSecret("v")
	if s.Value() != "v" || !s.IsSet() || s.String() != redacted || s.GoString() != redacted {
		t.Errorf("NewSecret: %q %v %q %q", s.Value(), s.IsSet(), s.String(), s.GoString())
	}
	if NewSecret("").IsSet() || (Secret{}).IsSet() {
		t.Error("an empty secret reports IsSet")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "hook")
	if err := os.WriteFile(secretPath, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "alertbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(webhookDest("secret_file: "+secretPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Destinations[0].Webhook.Secret.Value(); got != hookSecret {
		t.Errorf("secret = %q", got)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: errors.Is(ErrNotExist) is false for %v", err)
	}
	problemsOf(t, err)
}

func TestStorage(t *testing.T) {
	tests := []struct{ url, driver, path string }{
		{"sqlite://./alertbridge.db", "sqlite", "./alertbridge.db"},
		{"sqlite:///data/ab.db", "sqlite", "/data/ab.db"},
		{"postgres://u@h:5432/db", "postgres", ""},
		{"postgresql://u@h/db", "postgres", ""},
		{"mysql://h/db", "", ""},
	}
	for _, tt := range tests {
		s := Storage{URL: tt.url}
		if s.Driver() != tt.driver || s.SQLitePath() != tt.path {
			t.Errorf("%s: Driver %q SQLitePath %q; want %q %q", tt.url, s.Driver(), s.SQLitePath(), tt.driver, tt.path)
		}
	}
	if got := fmt.Sprint(Storage{URL: "postgres://u:hunter2@h/db"}); strings.Contains(got, "hunter2") {
		t.Errorf("storage password printed: %s", got)
	}
}

func TestDestinationLookup(t *testing.T) {
	cfg := mustParse(t, minimal)
	d, ok := cfg.Destination("w")
	if !ok || d.Name != "w" || d != &cfg.Destinations[1] {
		t.Errorf("Destination(w) = %v, %v", d, ok)
	}
	if _, ok := cfg.Destination("nope"); ok {
		t.Error("Destination(nope) found something")
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	src := jiraDest("", "custom_fields: {customfield_1: *a8}")
	// The anchors live in the first destination's unknown keys, which are
	// reported but never expanded.
	src = strings.Replace(src, "destinations:\n  - name: sec-jira\n", "destinations:\n  - name: sec-jira\n"+indent(4, b.String()), 1)
	done := make(chan error, 1)
	go func() { _, err := Parse([]byte(src), testEnv()); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "value is too large") {
			t.Errorf("want a too-large problem, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Parse did not finish: alias expansion is unbounded")
	}
}

func TestMergeBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("m0: &m0 {url: 'https://example.atlassian.net'}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "m%d: &m%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	src := "x:\n" + indent(2, b.String()) + "destinations: [{name: a, type: webhook, webhook: {<<: *m11}}]\n"
	done := make(chan error, 1)
	go func() { _, err := Parse([]byte(src), testEnv()); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "value is too large") {
			t.Errorf("want a too-large problem, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Parse did not finish: merge expansion is unbounded")
	}
}

func TestReopen(t *testing.T) {
	for _, tt := range []struct {
		value, want, problem string
	}{
		{"", ReopenTransition, ""},
		{"off", ReopenOff, ""},
		{"transition", ReopenTransition, ""},
		{"sometimes", "", "reopen"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			line := ""
			if tt.value != "" {
				line = "\n      reopen: " + tt.value
			}
			cfg, err := Parse([]byte(`
destinations:
  - name: j
    type: jira
    jira:
      url: https://example.atlassian.net
      email: bot@example.com
      token_env: JIRA_TOKEN
      project: SEC`+line+"\n"), testEnv())
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("reopen %q: error %v, want one naming %s", tt.value, err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Destinations[0].Jira.Reopen; got != tt.want {
				t.Errorf("reopen %q = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}
