// Package store persists alerts, their timelines, comments, deliveries and
// linked issues. One implementation serves both SQLite and PostgreSQL: the
// SQL is written once and the few differences (placeholders, locking, pools)
// live in a dialect.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/redact"
)

// ErrNotFound is returned when the alert, delivery or issue asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store is the database. Writes happen in InTx; View reads a consistent
// snapshot without taking the writer.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
	// Read runs fn's reads outside any transaction, each statement at its
	// own moment: for a read that is one statement, it saves View's begin
	// and commit (two round trips on PostgreSQL).
	Read(ctx context.Context, fn func(Tx) error) error
	Ping(ctx context.Context) error
	Close() error
	// Driver is "sqlite" or "postgres".
	Driver() string
	// Handle is the pool the durable queue shares: a *sql.DB on SQLite, a
	// *pgxpool.Pool on PostgreSQL.
	Handle() any
}

// Tx is one transaction: every group below, which each consumer narrows to
// what it uses. Every method returns errors wrapped with what failed.
type Tx interface {
	AlertTx
	TimelineTx
	CommentTx
	DeliveryTx
	IssueTx
	HealthTx
	SourceTx
	DetectionTx
	SyncTx
	JiraWebhookTx
	ConsoleTx
	GroupTx
	// AdvisoryLock serialises a critical section (migrations) across
	// replicas until the transaction ends. On SQLite the single writer
	// already does.
	AdvisoryLock(ctx context.Context, key int64) error
	// Raw is the driver's transaction (*sql.Tx or pgx.Tx), so that jobs
	// are inserted in the same transaction as the change that causes them.
	Raw() any
}

// AlertTx reads and writes alerts.
type AlertTx interface {
	// InsertAlert stores a new alert; it reports false, and changes nothing,
	// when an alert with the same alertId exists.
	InsertAlert(ctx context.Context, a *alert.Alert) (bool, error)
	// InsertAlerts is InsertAlert for each alert, in order, in one
	// statement on PostgreSQL: of several with the same alertId only the
	// first can be inserted.
	InsertAlerts(ctx context.Context, as []*alert.Alert) ([]bool, error)
	GetAlert(ctx context.Context, alertID string) (*alert.Alert, error)
	// LockAlert reads an alert and holds it against concurrent writers until
	// the transaction ends.
	LockAlert(ctx context.Context, alertID string) (*alert.Alert, error)
	// UpdateAlertState writes an alert's mutable state: status, assignee,
	// updated at and state since.
	UpdateAlertState(ctx context.Context, a *alert.Alert) error
	ListAlerts(ctx context.Context, q ListQuery) ([]*alert.Alert, string, error)
	// UpdateAlertDetection replaces a stored alert's detection facts (match
	// count, first and last seen).
	UpdateAlertDetection(ctx context.Context, alertID string, d alert.Detection, at time.Time) error
}

// TimelineTx keeps an alert's timeline.
type TimelineTx interface {
	AddEvent(ctx context.Context, alertID string, e alert.Event) error
	// AddEvents records several events in one statement.
	AddEvents(ctx context.Context, alertID string, es ...alert.Event) error
	ListEvents(ctx context.Context, alertID string) ([]alert.Event, error)
}

// CommentTx keeps alert comments and which Jira comment each one is.
type CommentTx interface {
	AddComment(ctx context.Context, c *alert.Comment) error
	ListComments(ctx context.Context, alertID string) ([]alert.Comment, error)
	GetComment(ctx context.Context, id int64) (*alert.Comment, error)
	// UpdateComment rewrites a comment's author, body and updated time.
	UpdateComment(ctx context.Context, c *alert.Comment) error
	// LinkComment records that an alert comment is a Jira comment of a
	// destination; origin is LinkOriginAlertbridge or LinkOriginJira.
	LinkComment(ctx context.Context, alertID string, commentID int64, destination, jiraCommentID, origin string) error
	// CommentLink finds the alert comment a Jira comment is; ErrNotFound when none.
	CommentLink(ctx context.Context, destination, jiraCommentID string) (alertID string, commentID int64, origin string, err error)
	// JiraCommentOf is the reverse: the destination's Jira comment id of an
	// alert comment; ErrNotFound when none.
	JiraCommentOf(ctx context.Context, commentID int64, destination string) (string, error)
}

// DeliveryTx keeps deliveries and their attempts.
type DeliveryTx interface {
	InsertDelivery(ctx context.Context, d *Delivery) error
	// InsertDeliveries is InsertDelivery for each, in one statement on
	// PostgreSQL.
	InsertDeliveries(ctx context.Context, ds []*Delivery) error
	GetDelivery(ctx context.Context, id int64) (*Delivery, error)
	UpdateDelivery(ctx context.Context, d *Delivery) error
	ListDeliveries(ctx context.Context, alertID string) ([]Delivery, error)
	CountDeliveries(ctx context.Context) (map[DeliveryState]int, error)
	// ClaimDelivery counts an attempt and notes its start before it sends.
	ClaimDelivery(ctx context.Context, d *Delivery, at time.Time) (bool, error)
	// ClaimDeliveries is ClaimDelivery of each delivery at its start time,
	// in order, in one statement on PostgreSQL.
	ClaimDeliveries(ctx context.Context, ds []*Delivery, at []time.Time) ([]bool, error)
	// GetDeliveryWork reads what an attempt of a delivery needs, in one
	// statement: ErrNotFound when the delivery or its alert is missing.
	GetDeliveryWork(ctx context.Context, id int64) (*DeliveryWork, error)
	// GetDeliveryWorks is GetDeliveryWork of many, in one statement on
	// PostgreSQL; the deliveries missing (or whose alert is) are left out.
	GetDeliveryWorks(ctx context.Context, ids []int64) (map[int64]*DeliveryWork, error)
}

// IssueTx links alerts to the issues made for them.
type IssueTx interface {
	UpsertIssue(ctx context.Context, alertID string, is alert.Issue) error
	GetIssue(ctx context.Context, alertID, destination string) (*alert.Issue, error)
	ListIssues(ctx context.Context, alertID string) ([]alert.Issue, error)
	// UnlinkIssue forgets an alert's issue in a destination, for a new one.
	UnlinkIssue(ctx context.Context, alertID, destination string) error
	// SetIssueStatus records what Jira last said of an issue's status.
	SetIssueStatus(ctx context.Context, alertID, destination, status string) error
	// AlertByIssue finds the alert linked to a Jira issue in a destination,
	// by issue key or id; ErrNotFound when none is.
	AlertByIssue(ctx context.Context, destination, key, id string) (string, error)
}

// HealthTx records destinations' last outcomes.
type HealthTx interface {
	RecordDestinationResult(ctx context.Context, name string, at time.Time, deliveryErr string) error
	DestinationHealth(ctx context.Context) (map[string]Health, error)
}

// SourceTx keeps log sources' positions and the events they processed.
type SourceTx interface {
	GetCheckpoint(ctx context.Context, name string) (string, error)
	PutCheckpoint(ctx context.Context, name, value string, at time.Time) error
	// MarkSourceEvents records event ids a source has processed, seen at
	// at, and reports for each whether it is new (false: skip it).
	MarkSourceEvents(ctx context.Context, source string, ids []string, at time.Time) ([]bool, error)
	// PruneSourceEvents forgets ids first seen before the time given.
	PruneSourceEvents(ctx context.Context, source string, seenBefore time.Time) (int64, error)
}

// DetectionTx keeps detection rules' dedup groups.
type DetectionTx interface {
	// LockDetectionGroup reads a rule's dedup group and holds it (even one
	// that does not exist yet) against concurrent writers until the
	// transaction ends; ErrNotFound when there is none.
	LockDetectionGroup(ctx context.Context, ruleID, dedup string) (*DetectionGroup, error)
	PutDetectionGroup(ctx context.Context, g *DetectionGroup) error
	// ExpireDetectionGroups drops groups whose period ended, and that were
	// last touched, by the time given. (Both: a backlog of old events makes
	// groups whose periods ended long ago but which are still in use.)
	ExpireDetectionGroups(ctx context.Context, before time.Time) (int64, error)
}

// SyncTx keeps what Jira sync knows of each issue.
type SyncTx interface {
	// BumpSync, GetSync, LockSync and PutSync keep reconciliation's
	// per-pair state; the outbound comments are what alertbridge writes on
	// issues, with what is known of each send.
	BumpSync(ctx context.Context, alertID, destination string) error
	GetSync(ctx context.Context, alertID, destination string) (*SyncState, error)
	LockSync(ctx context.Context, alertID, destination string) (*SyncState, error)
	PutSync(ctx context.Context, s *SyncState) error
	AddOutboundComment(ctx context.Context, c *OutboundComment) error
	UpdateOutboundComment(ctx context.Context, c *OutboundComment) error
	ListOutboundComments(ctx context.Context, alertID, destination string) ([]OutboundComment, error)
	// GetJiraUser reads the cached Jira user for an e-mail; ErrNotFound when
	// nothing is cached.
	GetJiraUser(ctx context.Context, destination, email string) (*JiraUser, error)
	PutJiraUser(ctx context.Context, u JiraUser) error
}

// JiraWebhookTx remembers the Jira webhooks applied.
type JiraWebhookTx interface {
	// JiraWebhookSeen reports whether a Jira webhook delivery (by its
	// X-Atlassian-Webhook-Identifier) was applied; MarkJiraWebhook records
	// that it was; PruneJiraWebhooks forgets those received before a time.
	JiraWebhookSeen(ctx context.Context, destination, identifier string) (bool, error)
	MarkJiraWebhook(ctx context.Context, destination, identifier string, at time.Time) error
	PruneJiraWebhooks(ctx context.Context, before time.Time) (int64, error)
}

// DeliveryState is where one delivery of an alert to a destination stands.
type DeliveryState string

const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryRetrying  DeliveryState = "retrying"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed"
)

// Why a delivery was made.
const (
	ReasonRouted = "routed" // the alert's routing chose the destination
	ReasonManual = "manual" // someone dispatched it by hand
	ReasonTest   = "test"   // a test alert for the destination
	// ReasonReopened: the alert fired again after its issue closed, and
	// the destination opens a new issue for that (jira.reopen: new_issue).
	ReasonReopened = "reopened"
)

// Delivery is one alert on its way to one destination.
type Delivery struct {
	ID          int64         `json:"id"`
	AlertID     string        `json:"alertId"`
	Destination string        `json:"destination"`
	Reason      string        `json:"reason"` // ReasonRouted, ReasonManual or ReasonTest
	State       DeliveryState `json:"state"`
	Attempts    int           `json:"attempts"`
	LastError   string        `json:"lastError"`
	CreatedAt   time.Time     `json:"createdAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
	// SendingSince is when the attempt that may be sending began (see
	// ClaimDelivery); zero once its outcome is recorded.
	SendingSince time.Time `json:"-"`
}

// DeliveryWork is a delivery with its alert and, when there is one, the
// issue linked to the alert in the delivery's destination.
type DeliveryWork struct {
	Delivery Delivery
	Alert    *alert.Alert
	Issue    *alert.Issue
}

// Health is a destination's most recent outcomes.
type Health struct {
	LastSuccess time.Time
	LastErrorAt time.Time
	LastError   string
}

// ListQuery filters and pages the alert list, newest first.
type ListQuery struct {
	Status   alert.Status
	Severity alert.Severity
	Limit    int
	Cursor   string
	// IncludeTest lists the test alerts sent to check destinations too;
	// they are left out by default, so they do not mix with real ones.
	IncludeTest bool
	// RuleID, Destination and Text narrow the console's list: the
	// detection that raised the alert, a destination it was delivered to,
	// and text anywhere in the alert (ignoring ASCII case).
	RuleID      string
	Destination string
	Text        string
}

// Open connects to the database a storage URL names and applies migrations.
func Open(ctx context.Context, url string) (Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	default:
		return nil, fmt.Errorf("open store: unsupported storage URL scheme in %q", redact.URL(url))
	}
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
