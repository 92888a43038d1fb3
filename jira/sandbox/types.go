// Package sandbox is an in-memory Jira for tests and for trying alertbridge
// without a Jira account. It answers the REST calls alertbridge makes, the
// way Jira Cloud (REST v3, ADF) or Jira Data Center (REST v2, wiki markup)
// does, validates field values as Jira does, lags its search index, sends
// signed webhooks, and injects faults on demand, deterministically from a
// seed.
package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/alertbridge/alertbridge/jira"
)

// Options configure a Sandbox. The zero value is a Cloud Jira with one
// project SEC, one user and the default workflow.
type Options struct {
	Deployment jira.Deployment // cloud (default) or datacenter
	Projects   []Project       // default: SEC with Task, Bug, Story
	Users      []User          // default: DefaultUser
	Priorities []string        // default: Highest, High, Medium, Low, Lowest
	Workflow   *Workflow       // default: DefaultWorkflow()
	// IndexLag is how long after creation an issue becomes visible to JQL
	// search, as Jira Cloud's eventually consistent index does.
	IndexLag time.Duration
	// WebhookURL receives jira:issue_created, jira:issue_updated,
	// comment_created and comment_updated, signed with WebhookSecret
	// (X-Hub-Signature: sha256=HEX) when it is set.
	WebhookURL    string
	WebhookSecret string
	WebhookClient *http.Client // default: a client with a 10s timeout
	// Validate, when set, checks every request before it is served; an error
	// answers 400 and is kept in ValidationErrors. openapicheck provides one
	// that checks Atlassian's OpenAPI specs.
	Validate func(r *http.Request, body []byte) error
	// ValidateAnswer, when set, checks each answer the sandbox serves
	// (not those a fault replaces); an error is kept in ValidationErrors.
	// openapicheck's CheckAnswer checks it against Atlassian's spec.
	ValidateAnswer func(r *http.Request, status int, header http.Header, body []byte) error
	// Seed makes fault injection deterministic.
	Seed uint64
	// BaseURL is used in self links when the Sandbox is served by someone
	// else's server; Start sets it.
	BaseURL string
	// Anonymous lets requests without credentials through as the first user,
	// for trying the sandbox by hand.
	Anonymous bool
	// RateLimit, when positive, admits that many REST requests a second
	// (bursting to one second's worth), as a Jira site's burst limit
	// does, and answers the others 429 with Retry-After: RateLimitWindow
	// (default 1s) and RateLimit-Reason: jira-burst-based. A request that
	// arrives inside a window it announced is refused again.
	RateLimit       float64
	RateLimitWindow time.Duration
	// NearLimit sends X-RateLimit-NearLimit: true on answers while less
	// than a fifth of the RateLimit bucket is left, as Jira does when less
	// than 20% of a budget remains.
	NearLimit bool
}

// Project is a Jira project.
type Project struct {
	Key        string
	Name       string
	ID         string
	IssueTypes []string // default: Task, Bug, Story
	// Fields are custom fields on the create screen (summary, description,
	// issue type, project, priority, labels, assignee and reporter always are).
	Fields []Field
}

// Field is a custom field on a project's create screen.
type Field struct {
	ID            string // customfield_10010
	Name          string
	Required      bool
	Type          string   // schema type: string (default), number, array, option, any
	AllowedValues []string // option values, if the field is a select list
}

// User is a Jira user and its credentials.
type User struct {
	AccountID   string // Cloud identity
	Name        string // DC login (also accepted as the basic-auth user)
	Key         string // DC user key
	Email       string
	DisplayName string
	// Token is the API token (Cloud basic), password (DC basic) or personal
	// access token (DC bearer).
	Token string
	// HideEmail hides the address from Cloud user search results, as users'
	// profile visibility does; the query still finds them.
	HideEmail bool
	// Projects the user may create issues in; empty means all.
	Projects []string
}

// DefaultUser is the user a zero Options configures.
var DefaultUser = User{
	AccountID:   "5b10a2844c20165700ede21g",
	Name:        "alertbridge",
	Key:         "JIRAUSER10000",
	Email:       "bot@example.com",
	DisplayName: "alertbridge bot",
	Token:       "sandbox-token",
}

// People are the sandbox's users besides alertbridge's bot, so that a
// person trying alertbridge can act in "Jira" as someone else — transition,
// assign, comment — and see every sync direction: changes by the bot's own
// account are, rightly, never synced back.
var People = []User{
	{AccountID: "5b10ac8d82e05b22cc7d4ef5", Name: "ann", Key: "JIRAUSER10001", Email: "ann@example.com", DisplayName: "Ann Analyst", Token: "ann-token"},
	{AccountID: "5b10ac8d82e05b22cc7d4ef6", Name: "sam", Key: "JIRAUSER10002", Email: "sam@example.com", DisplayName: "Sam Responder", Token: "sam-token"},
}

// Workflow is the statuses an issue moves through.
type Workflow struct {
	Initial     string // status name of a new issue
	Statuses    []jira.Status
	Transitions []WorkflowTransition
}

// WorkflowTransition moves an issue from one of From (any status when empty)
// to To.
type WorkflowTransition struct {
	ID   string
	Name string
	From []string
	To   string
}

// DefaultWorkflow is To Do → In Progress → Done, each reachable from any
// other, like Jira's simplified workflow.
func DefaultWorkflow() *Workflow {
	return &Workflow{
		Initial: "To Do",
		Statuses: []jira.Status{
			{ID: "10000", Name: "To Do", Category: "new"},
			{ID: "3", Name: "In Progress", Category: "indeterminate"},
			{ID: "10001", Name: "Done", Category: "done"},
		},
		Transitions: []WorkflowTransition{
			{ID: "11", Name: "To Do", To: "To Do"},
			{ID: "21", Name: "In Progress", To: "In Progress"},
			{ID: "31", Name: "Done", To: "Done"},
		},
	}
}

// StoredIssue is an issue as the sandbox holds it.
type StoredIssue struct {
	ID, Key   string
	Project   string
	IssueType string
	Summary   string
	Priority  string
	Labels    []string
	Status    jira.Status
	Assignee  *User
	Reporter  *User
	// Description is the stored JSON: an ADF document on Cloud, a string on DC.
	Description json.RawMessage
	// Fields holds every field as last set, in the deployment's representation.
	Fields     map[string]json.RawMessage
	Properties map[string]json.RawMessage
	Comments   []StoredComment
	// StatusHistory and AssigneeHistory hold every transition and assignment
	// applied, in order, even one that left the value as it was (Jira's
	// changelog leaves those out): a repeated request shows as two entries.
	StatusHistory   []StatusChange
	AssigneeHistory []AssigneeChange
	Created         time.Time
	Updated         time.Time
}

// StoredComment is a comment as stored; Body is ADF on Cloud, a string on DC.
type StoredComment struct {
	ID     string
	Author string // account id (Cloud) or name (DC)
	Body   json.RawMessage
	// Properties are the comment's entity properties, each value the JSON
	// it holds on both deployments.
	Properties map[string]json.RawMessage
	Created    time.Time
	Updated    time.Time
}

// StatusChange is one transition applied to an issue.
type StatusChange struct {
	Transition string // the transition's id
	From, To   string // status names
	At         time.Time
}

// AssigneeChange is one assignment applied to an issue, through the
// assignee resource or an edit of the assignee field. From and To are account
// ids (Cloud) or names (DC); empty is unassigned.
type AssigneeChange struct {
	From, To string
	At       time.Time
}

// RecordedRequest is one request the sandbox received.
type RecordedRequest struct {
	Method string
	Path   string
	Query  string
	Body   []byte
	Time   time.Time // when it arrived
	Status int       // what was answered; 0 when the answer was lost
	// Served is what the sandbox itself answered before a lost-answer or
	// stored-server-error fault replaced it: a 2xx says the effect was
	// stored though the client never learnt so. Otherwise it equals Status.
	Served int
	Fault  string // the injected fault, if any
	// RetryAfter is what a 429 answer announced, counted from Answered.
	RetryAfter time.Duration
	// Answered is when a 429 was decided and written: its window starts
	// there, not at arrival, since validation may take a while before it.
	Answered time.Time
	// ValidationError is why Validate rejected the request.
	ValidationError string
}

// FaultKind is what an injected fault does.
type FaultKind int

const (
	// FaultRateLimit answers 429 with Retry-After (or X-RateLimit-Reset).
	FaultRateLimit FaultKind = iota + 1
	// FaultServerError answers Status (default 503) without serving the
	// request: nothing is stored.
	FaultServerError
	// FaultSlow serves the request after Delay.
	FaultSlow
	// FaultLostAnswer serves the request, so its effect is stored (an issue
	// created, a comment added, a transition made), then hangs for Delay (or
	// until the client gives up) and drops the connection.
	FaultLostAnswer
	// FaultStoredServerError serves the request, so its effect is stored,
	// then answers Status (default 502) instead, as Jira behind a proxy that
	// gave up on it does.
	FaultStoredServerError
	// FaultServedLate serves the request after Delay whether or not the
	// client still waits, as a Jira that queued the request does: a client
	// that timed out sees no answer, and the effect lands later.
	FaultServedLate
)

// String is the kind's name, as RecordedRequest.Fault gives it.
func (k FaultKind) String() string {
	switch k {
	case FaultRateLimit:
		return "rate-limit"
	case FaultServerError:
		return "server-error"
	case FaultSlow:
		return "slow"
	case FaultLostAnswer:
		return "lost-answer"
	case FaultStoredServerError:
		return "stored-server-error"
	case FaultServedLate:
		return "served-late"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultSpec says which requests a fault hits. A fault fires for a request
// that matches Method and PathPrefix, while Count and the window last, with
// Probability.
type FaultSpec struct {
	Kind       FaultKind
	Method     string        // empty: any
	PathPrefix string        // empty: any; e.g. "/rest/api/3/issue"
	Count      int           // the next Count matching requests that fire; 0: unlimited
	For        time.Duration // window from Fail; 0: unlimited
	// Probability of firing per matching request; 0 means 1.
	Probability float64
	RetryAfter  time.Duration // FaultRateLimit; default 1s, announced in whole seconds
	// ResetHeader sends X-RateLimit-Reset instead of Retry-After.
	ResetHeader bool
	Status      int           // FaultServerError (default 503), FaultStoredServerError (default 502)
	Delay       time.Duration // FaultSlow, FaultServedLate; FaultLostAnswer (0: until the client gives up)
}

// WebhookDelivery is one webhook the sandbox sent.
type WebhookDelivery struct {
	Event      string
	Identifier string
	Body       []byte
	Signature  string
	Status     int
	Err        string
}
