// Package alert holds alertbridge's domain: alerts, their severities, types and
// statuses, and the rules for what makes an alert well-formed. It imports
// nothing else of ours, so every other package can depend on it.
package alert

import (
	"encoding/json"
	"time"
)

// Alert is a detection alert as alertbridge stores and emits it. The JSON
// names of the first block are the Panther destination schema, so an alert
// received from Panther can be forwarded unchanged.
type Alert struct {
	ID          string          `json:"id"` // the detection (rule) that raised it
	AlertID     string          `json:"alertId"`
	CreatedAt   time.Time       `json:"createdAt"`
	Severity    Severity        `json:"severity"`
	Type        Type            `json:"type"`
	Link        string          `json:"link,omitempty"`
	Title       string          `json:"title"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	Runbook     string          `json:"runbook,omitempty"`
	Tags        []string        `json:"tags"`
	Version     string          `json:"version,omitempty"`
	Context     json.RawMessage `json:"alertContext,omitempty"`
	LogTypes    []string        `json:"logTypes,omitempty"`

	// Routing inputs. Destinations is a generated list (from the sender or a
	// rule's destinations()); DestinationOverride is a detection's static
	// list; StaticSeverity is a detection's configured severity when its
	// severity() function generated Severity.
	Destinations        []string `json:"destinations,omitempty"`
	DestinationOverride []string `json:"destinationOverride,omitempty"`
	StaticSeverity      Severity `json:"staticSeverity,omitempty"`

	Detection *Detection `json:"detection,omitempty"`
	// Group is set on an alert that stands for an Alertmanager or Grafana
	// group, made for destinations with an issue per group.
	Group  *Group `json:"group,omitempty"`
	Source Source `json:"source"`

	Status    Status    `json:"status"`
	Assignee  string    `json:"assignee,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
	// StateSince is when the sender says the alert's current status began:
	// the startsAt of the firing, or the endsAt of the resolution
	// (Alertmanager, Grafana). Zero when the sender never said, or when
	// someone other than the sender set the status last.
	StateSince time.Time `json:"-"`
}

// Detection holds the facts about an alert raised by alertbridge's own rules.
type Detection struct {
	MatchCount int       `json:"matchCount"`
	FirstSeen  time.Time `json:"firstSeen"`
	LastSeen   time.Time `json:"lastSeen"`
	Dedup      string    `json:"dedup,omitempty"`
}

// Group holds the facts of an alert that stands for a group of alerts: its
// members are the alerts of the group routed to an issue per group.
type Group struct {
	// Key is the sender's groupKey; Sender is "Alertmanager" or "Grafana".
	Key      string `json:"key"`
	Sender   string `json:"sender"`
	Receiver string `json:"receiver,omitempty"`
	// Alerts counts the group's members, Firing those still open or triaged.
	Alerts int `json:"alerts"`
	Firing int `json:"firing"`
}

// Source says how an alert reached alertbridge.
type Source string

// Refires reports whether the source sends an alert again, under the same
// identity, when it fires after resolving (Alertmanager's and Grafana's
// fingerprints), so that a repeat of a resolved alert reopens it.
func (s Source) Refires() bool { return s == SourceAlertmanager || s == SourceGrafana }

const (
	SourceAPI          Source = "api"
	SourceAlertmanager Source = "alertmanager"
	SourceGrafana      Source = "grafana"
	SourceDetection    Source = "detection"
	SourceSystem       Source = "system"
	SourceTest         Source = "test"
)

// Comment is a remark on an alert, written through the API or mirrored from
// an external system.
type Comment struct {
	ID        int64     `json:"id"`
	AlertID   string    `json:"alertId"`
	Author    string    `json:"author"`
	Body      string    `json:"body"` // Markdown
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Event is one entry on an alert's timeline: who did what, and when.
type Event struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// Timeline actions.
const (
	ActionCreated         = "created"
	ActionRouted          = "routed"
	ActionUnrouted        = "unrouted"
	ActionStatusChanged   = "status_changed"
	ActionAssigneeChanged = "assignee_changed"
	ActionCommented       = "commented"
	ActionDispatched      = "dispatched"
	ActionDelivered       = "delivered"
	ActionDeliveryFailed  = "delivery_failed"
	ActionReopened        = "reopened"
	// ActionGrouped: the alert is on its group's issue in a destination
	// with an issue per group, rather than on an issue of its own.
	ActionGrouped = "grouped"
	// ActionGroupChanged: alerts joined, resolved or fired again in the
	// group an alert stands for.
	ActionGroupChanged = "group_changed"
)

// Issue is an alert's counterpart in an external tracker, such as a Jira
// issue created for it by one destination.
type Issue struct {
	Destination string `json:"destination"`
	Key         string `json:"key"`
	ID          string `json:"id,omitempty"`
	URL         string `json:"url"`
	Status      string `json:"status,omitempty"`
}
