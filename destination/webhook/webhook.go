// Package webhook delivers alerts as JSON in the Panther destination schema
// to an HTTP endpoint, signed so the receiver can trust them.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/internal/hmacsig"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Alertbridge-Signature"

// DeliveryHeader carries the delivery's ID, the same on every attempt, so a
// receiver can drop a repeat of a delivery it already processed.
const DeliveryHeader = "X-Alertbridge-Delivery"

// Config configures one webhook destination.
type Config struct {
	URL       string
	Secret    string // HMAC key; no signature header when empty
	Timeout   time.Duration
	PublicURL string // base of the link back when an alert has none
	Client    *http.Client
}

// Notifier posts alerts to a URL.
type Notifier struct {
	cfg Config
}

// New returns a webhook notifier.
func New(cfg Config) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: destination.Transport()}
	}
	return &Notifier{cfg: cfg}
}

// Payload is the Panther destination schema, with alertContext and logTypes.
type Payload struct {
	ID          string          `json:"id"`
	CreatedAt   time.Time       `json:"createdAt"`
	Severity    alert.Severity  `json:"severity"`
	Type        alert.Type      `json:"type"`
	Link        string          `json:"link"`
	Title       string          `json:"title"`
	Name        string          `json:"name"`
	AlertID     string          `json:"alertId"`
	Description string          `json:"description"`
	Runbook     string          `json:"runbook"`
	Tags        []string        `json:"tags"`
	Version     string          `json:"version"`
	Context     json.RawMessage `json:"alertContext"`
	LogTypes    []string        `json:"logTypes,omitempty"`
}

// PayloadOf renders an alert in the schema.
func PayloadOf(a *alert.Alert, publicURL string) Payload {
	p := Payload{
		ID: a.ID, CreatedAt: a.CreatedAt, Severity: a.Severity, Type: a.Type,
		Link: destination.AlertURL(publicURL, a), Title: a.Title, Name: a.Name, AlertID: a.AlertID,
		Description: a.Description, Runbook: a.Runbook, Tags: a.Tags, Version: a.Version,
		Context: a.Context, LogTypes: a.LogTypes,
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	if len(p.Context) == 0 {
		p.Context = json.RawMessage("{}")
	}
	return p
}

// Notify posts the alert once and classifies the answer.
func (n *Notifier) Notify(ctx context.Context, note destination.Notification) (destination.Receipt, error) {
	body, err := json.Marshal(PayloadOf(note.Alert, n.cfg.PublicURL))
	if err != nil {
		return destination.Receipt{}, destination.Permanent(fmt.Errorf("encode alert: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	h := http.Header{DeliveryHeader: {strconv.FormatInt(note.DeliveryID, 10)}}
	if n.cfg.Secret != "" {
		h.Set(SignatureHeader, hmacsig.Sign(n.cfg.Secret, body))
	}
	resp, snippet, err := destination.PostJSON(ctx, n.cfg.Client, n.cfg.URL, body, h)
	if err != nil {
		// The URL is ours to show; the error from net/http names it already.
		return destination.Receipt{}, fmt.Errorf("post alert: %w", err)
	}
	return destination.Receipt{Detail: "HTTP " + strconv.Itoa(resp.StatusCode)}, destination.ClassifyHTTP("webhook", resp, snippet)
}
