package ingest

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// pantherAlert is the Panther destination schema plus alertContext,
// logTypes and destinations. Pointers tell a missing field from an empty one.
type pantherAlert struct {
	ID           *string         `json:"id"`
	CreatedAt    *string         `json:"createdAt"`
	Severity     *string         `json:"severity"`
	Type         *string         `json:"type"`
	Link         *string         `json:"link"`
	Title        *string         `json:"title"`
	Name         *string         `json:"name"`
	AlertID      *string         `json:"alertId"`
	Description  *string         `json:"description"`
	Runbook      *string         `json:"runbook"`
	Tags         []string        `json:"tags"`
	Version      *string         `json:"version"`
	AlertContext json.RawMessage `json:"alertContext"`
	LogTypes     []string        `json:"logTypes"`
	Destinations []string        `json:"destinations"`
}

// Panther parses one alert in the Panther destination schema. now fills in
// a missing createdAt. Destination names are checked by the caller, which
// knows the configuration.
func Panther(body []byte, now time.Time) (*alert.Alert, error) {
	var p pantherAlert
	if err := decodeStrict(body, &p, ""); err != nil {
		return nil, err
	}
	a := &alert.Alert{
		ID: str(p.ID), AlertID: str(p.AlertID), Title: str(p.Title), Link: str(p.Link), Name: str(p.Name),
		Description: str(p.Description), Runbook: str(p.Runbook), Version: str(p.Version),
		Tags: p.Tags, LogTypes: p.LogTypes, Destinations: p.Destinations,
		Source: alert.SourceAPI, Status: alert.StatusOpen, CreatedAt: now, UpdatedAt: now,
	}
	if a.Tags == nil {
		a.Tags = []string{}
	}
	checks := []error{
		checkID("alertId", a.AlertID),
		required("title", a.Title),
		checkText("title", a.Title, MaxTitleLen),
		checkText("id", a.ID, MaxIDLen),
		checkText("name", a.Name, MaxTitleLen),
		checkText("description", a.Description, MaxTextLen),
		checkText("runbook", a.Runbook, MaxTextLen),
		checkText("version", a.Version, MaxIDLen),
		checkURL("link", a.Link),
		checkStrings("tags", a.Tags, MaxTags),
		checkStrings("logTypes", a.LogTypes, MaxTags),
		checkStrings("destinations", a.Destinations, MaxTags),
		checkObject("alertContext", p.AlertContext),
	}
	for _, err := range checks {
		if err != nil {
			return nil, err
		}
	}
	if p.Severity == nil || *p.Severity == "" {
		return nil, fieldErr("severity", "required")
	}
	sev, err := alert.ParseSeverity(*p.Severity)
	if err != nil {
		return nil, fieldErr("severity", "%v", err)
	}
	a.Severity = sev
	a.Type = alert.TypeRule
	if p.Type != nil && *p.Type != "" {
		if a.Type, err = alert.ParseType(*p.Type); err != nil {
			return nil, fieldErr("type", "%v", err)
		}
	}
	if p.CreatedAt != nil && *p.CreatedAt != "" {
		if a.CreatedAt, err = parseTime("createdAt", *p.CreatedAt); err != nil {
			return nil, err
		}
	}
	if len(p.AlertContext) > 0 && string(p.AlertContext) != "null" {
		a.Context = compact(p.AlertContext)
	}
	// Last, so that a field with a rule of its own (alertId, severity) is
	// named by that rule; the names are the input's, as the schemas agree.
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// required rejects blank values too: a title of spaces becomes an empty Jira
// summary, which Jira refuses long after the sender was told 202.
func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fieldErr(field, "required")
	}
	return nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b []byte
	if buf, err := json.Marshal(raw); err == nil {
		b = buf
	} else {
		b = raw
	}
	return b
}
