// Package config reads alertbridge's YAML configuration.
//
// The file is walked node by node rather than decoded into structs, so that
// every mistake can be reported at once with the key path it sits at
// ("destinations[1].jira.sync.status_map.OPNE"), and so that unknown keys,
// wrong types and inline secrets are errors rather than silently ignored.
// Secrets are read only from environment variables and files named in
// *_env / *_file keys; nothing in the file is ever expanded.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/auth"
)

// Config is a loaded, validated configuration. Every default is filled in.
type Config struct {
	Server       Server
	Storage      Storage
	Destinations []Destination
	Sources      []Source
	Detections   Detections
	// Warnings are risks the configuration leaves open, for check-config
	// to print; they do not stop alertbridge.
	Warnings Problems
}

// Server configures the HTTP listener and API access.
type Server struct {
	Listen    string
	PublicURL string // no trailing slash, so paths can be appended
	APITokens []APIToken
	// IngestRate and IngestBurst limit each API token on the ingest
	// endpoints (requests per second, and bucket size).
	IngestRate      float64
	IngestBurst     int
	ShutdownTimeout time.Duration
	// Console is the web console's sign-in; no users and no OIDC: the
	// console's pages refuse everyone.
	Console Console
}

// APIToken is one bearer token accepted on /api/.
type APIToken struct {
	Name  string
	Token Secret
	// Scopes is what the token may do; when the key is not set it is
	// every scope (auth.AllScopes), as before scopes existed, and
	// check-config warns.
	Scopes []auth.Scope
}

// Storage says where alertbridge keeps its state.
//
// A PostgreSQL password is better left out of the URL: the driver reads
// PGPASSWORD or ~/.pgpass, which keeps it out of the config file.
type Storage struct {
	URL string
}

// Destination is one place alerts are delivered to. Exactly one of Jira,
// Webhook and Slack is set, matching Type.
type Destination struct {
	Name           string
	Type           string
	Severities     []alert.Severity
	AlertTypes     []alert.Type
	LogTypes       []string // empty matches every log type
	ManualDispatch bool

	Jira    *Jira
	Webhook *Webhook
	Slack   *Slack
}

// Destination types.
const (
	TypeJira    = "jira"
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
)

// Webhook posts each alert as JSON to a URL, signed with Secret when set.
type Webhook struct {
	URL         string
	Secret      Secret
	Timeout     time.Duration
	MaxAttempts int
}

// Slack posts each alert to a Slack incoming webhook. The webhook URL is
// itself a credential, so it is a Secret.
type Slack struct {
	WebhookURL Secret
	Timeout    time.Duration
}

// Jira creates one issue per alert in a Jira Cloud or Data Center project.
type Jira struct {
	URL        string // no trailing slash
	Deployment string // auto, cloud or datacenter
	Auth       string // basic or bearer
	Email      string // the user name on Data Center
	Token      Secret
	Project    string
	IssueType  string
	AssigneeID string

	Labels           []string
	LabelsBySeverity map[alert.Severity][]string
	// Priority names the Jira priority per severity; a severity missing
	// here sends no priority, leaving Jira's default.
	Priority map[alert.Severity]string
	// Summary, Description (Markdown), the Labels and LabelsBySeverity
	// items and the strings in CustomFields are templates over
	// jiradest.Data, each known to render the sample alert.
	Summary     string
	Description string

	CustomFields map[string]any // values as plain JSON-compatible data

	Timeout           time.Duration
	MaxConcurrency    int
	RequestsPerSecond float64
	// BulkCreate sends creates that wait for the site together, as one
	// bulk create of up to 50.
	BulkCreate bool
	// SearchLag is how long a just-created issue may be missing from JQL
	// results; zero means the deployment's default.
	SearchLag time.Duration
	// Reopen is what an alert firing again after its issue was closed does
	// to the issue: ReopenTransition moves it back (to the status mapped
	// for OPEN), ReopenNewIssue opens a new issue, ReopenOff leaves it
	// closed. With ReopenWindow set, an issue closed longer ago than that
	// is not moved back: a new one is opened, as Alertmanager's
	// reopen_duration does.
	Reopen       string
	ReopenWindow time.Duration
	// CreateIfResolved: an alert already resolved when its delivery runs
	// (resolved before its issue could be created) still gets an issue,
	// moved to the status mapped for RESOLVED; false makes no issue.
	CreateIfResolved bool
	// IssuePer is IssuePerAlert (one issue per alert) or IssuePerGroup: one
	// issue per Alertmanager or Grafana group (its groupKey), updated by a
	// summarised comment when alerts join or resolve.
	IssuePer string

	Sync JiraSync
}

// What one Jira issue stands for.
const (
	IssuePerAlert = "alert"
	IssuePerGroup = "group"
)

// What an alert firing again does to its closed issue.
const (
	ReopenTransition = "transition"
	ReopenNewIssue   = "new_issue"
	ReopenOff        = "off"
)

// Jira deployments and authentication schemes.
const (
	DeploymentAuto       = "auto"
	DeploymentCloud      = "cloud"
	DeploymentDataCenter = "datacenter"

	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// JiraSync says which alert fields are kept in step with the Jira issue.
type JiraSync struct {
	Status   SyncMode
	Assignee SyncMode
	Comments SyncMode
	// StatusMap names the Jira status for each alert status. When the key
	// is left out it is Jira's default workflow (To Do, In Progress, Done).
	StatusMap     map[alert.Status]string
	WebhookSecret Secret // verifies inbound Jira webhooks
}

// TwoWay reports whether any field is synced back from Jira, which is when
// inbound webhooks are accepted.
func (s JiraSync) TwoWay() bool {
	return s.Status == SyncTwoWay || s.Assignee == SyncTwoWay || s.Comments == SyncTwoWay
}

// SyncMode is the direction a field is synced in.
type SyncMode string

// Sync modes.
const (
	SyncOff    SyncMode = "off"
	SyncOneWay SyncMode = "one-way" // alertbridge to Jira
	SyncTwoWay SyncMode = "two-way"
)

// Source is a log source alertbridge polls.
type Source struct {
	Name               string
	Type               string
	OrgID              string
	APIKey             Secret
	BaseURL            string // no trailing slash
	Endpoint           string // events-stream or events
	PollInterval       time.Duration
	NoEventsAlertAfter time.Duration
	APIKeyExpires      time.Time // zero when not configured
}

// Source types and Atlassian audit endpoints.
const (
	SourceAtlassianAudit = "atlassian_audit"

	EndpointEventsStream = "events-stream"
	EndpointEvents       = "events"
)

// Detections says where detection rules are read from and how their Python
// workers run. Zero values mean pyrules' defaults.
type Detections struct {
	Paths          []string
	Python         string        // the python3 to run; "" finds it on PATH
	Workers        int           // worker processes at most
	CallTimeout    time.Duration // per call of a rule function
	WorkerMemoryMB int           // address-space limit of each worker
}

// Defaults that are not obvious from the field they fill.
const (
	DefaultListen     = "127.0.0.1:8080"
	DefaultStorageURL = "sqlite://./alertbridge.db"
	DefaultLabel      = "security-detection"
	DefaultBaseURL    = "https://api.atlassian.com"
	// DefaultMaxAttempts is every destination's attempt budget; only a
	// webhook's max_attempts changes it.
	DefaultMaxAttempts = 12
)

// Env is what Parse may read besides the YAML itself. Tests supply fakes; a
// nil function behaves as an empty environment or an unreadable file.
type Env struct {
	LookupEnv func(name string) (string, bool)
	ReadFile  func(path string) ([]byte, error)
}

// Load reads and parses the file at path, resolving secrets from the real
// environment and file system. Relative secret file paths are relative to
// the working directory, not to the config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Problems{{Message: fmt.Sprintf("read config: %v", err), err: err}}
	}
	return Parse(data, Env{LookupEnv: os.LookupEnv, ReadFile: os.ReadFile})
}

// Parse parses and validates a configuration. On failure the error is a
// *Problems listing every problem found, and the Config is nil.
func Parse(data []byte, env Env) (*Config, error) {
	d := &decoder{env: env, budget: maxExpansion}
	root := d.document(data)
	cfg := d.config(root)
	if len(d.probs) > 0 {
		sort.SliceStable(d.probs, func(i, j int) bool { return d.probs[i].Line < d.probs[j].Line })
		return nil, &d.probs
	}
	return cfg, nil
}

// Destination returns the destination called name.
func (c *Config) Destination(name string) (*Destination, bool) {
	for i := range c.Destinations {
		if c.Destinations[i].Name == name {
			return &c.Destinations[i], true
		}
	}
	return nil, false
}

// Driver names the database the URL points at: "sqlite" or "postgres".
func (s Storage) Driver() string {
	switch {
	case strings.HasPrefix(s.URL, sqlitePrefix):
		return "sqlite"
	case strings.HasPrefix(s.URL, "postgres://"), strings.HasPrefix(s.URL, "postgresql://"):
		return "postgres"
	}
	return ""
}

// SQLitePath is the database file of a sqlite:// URL, or "" for others.
func (s Storage) SQLitePath() string {
	if !strings.HasPrefix(s.URL, sqlitePrefix) {
		return ""
	}
	return strings.TrimPrefix(s.URL, sqlitePrefix)
}

const sqlitePrefix = "sqlite://"

// document decodes the single YAML document in data. A syntax error leaves
// nothing to walk, so it is the only problem reported.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.probs = append(d.probs, Problem{Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), err: err})
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		d.add("", &extra, "the file must hold one YAML document, found more")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) config(n *yaml.Node) *Config {
	b := d.block("", n)
	dests := b.items("destinations")
	cfg := &Config{
		Server:       d.server(b.sub("server")),
		Storage:      d.storage(b.sub("storage")),
		Destinations: d.destinations(dests),
		Sources:      d.sources(b.items("sources")),
		Detections:   d.detections(b.sub("detections")),
	}
	cfg.Warnings = append(d.checkSync(dests, cfg.Destinations), d.warnings...)
	b.done()
	return cfg
}

func (d *decoder) detections(b *block) Detections {
	paths, _ := b.strs("paths")
	det := Detections{
		Paths:          paths,
		Python:         b.str("python", ""),
		Workers:        b.integer("workers", 0, 1),
		CallTimeout:    b.duration("call_timeout", 0, 10*time.Millisecond, time.Minute),
		WorkerMemoryMB: b.integer("worker_memory_mb", 0, 64),
	}
	b.done()
	return det
}
