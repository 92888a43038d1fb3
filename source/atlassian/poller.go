package atlassian

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/store"
)

// Defaults of Config's tuning fields.
const (
	DefaultOverlap         = 5 * time.Minute
	DefaultInitialLookback = time.Hour
	// Atlassian allows about 50 requests a minute on events-stream.
	DefaultRequestsPerMinute = 50
	// KeyExpiryWarning is how long before the API key expires the source
	// starts warning, once a day.
	KeyExpiryWarning = 14 * 24 * time.Hour
	// seenRetention is how long processed event ids are remembered.
	seenRetention = 24 * time.Hour
	// maxPages bounds one poll, so that it ends well within the queue's job
	// timeout even at 50 requests a minute; a backlog continues at the next
	// poll from the checkpointed cursor.
	maxPages = 25
)

// Config is one atlassian_audit source.
type Config struct {
	Name     string
	OrgID    string
	APIKey   string
	BaseURL  string
	Endpoint string // events-stream (default) or events
	// NoEventsAlertAfter raises a SYSTEM_ERROR alert when no new event has
	// arrived for this long; zero turns it off.
	NoEventsAlertAfter time.Duration
	// APIKeyExpires, when set, raises a warning before the key expires.
	APIKeyExpires time.Time

	// Overlap is how far each window reaches back into the previous one, to
	// catch events Atlassian indexes late; repeats are dropped by event id.
	Overlap time.Duration
	// InitialLookback is where the first poll starts, before any checkpoint.
	InitialLookback   time.Duration
	RequestsPerMinute int
	// Retries is the attempts per request before a poll gives up; default 8.
	Retries int
	// RetryBackoff is the first wait after a 5xx; default 1s, doubling.
	RetryBackoff time.Duration
	HTTPClient   *http.Client
	Now          func() time.Time
	Logger       *slog.Logger
}

// Poller reads one source's audit log.
type Poller struct {
	cfg      Config
	client   *client
	pipeline *detection.Pipeline
	svc      *lifecycle.Service
	st       store.Store
}

// NewPoller builds a poller writing through the pipeline and service.
func NewPoller(cfg Config, st store.Store, svc *lifecycle.Service, pipeline *detection.Pipeline) *Poller {
	if cfg.Endpoint == "" {
		cfg.Endpoint = EndpointEventsStream
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.InitialLookback <= 0 {
		cfg.InitialLookback = DefaultInitialLookback
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 8
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Logger = cfg.Logger.With("source", cfg.Name)
	perMinute := float64(cfg.RequestsPerMinute)
	return &Poller{
		cfg: cfg,
		client: &client{
			http: cfg.HTTPClient, base: cfg.BaseURL, orgID: cfg.OrgID, apiKey: cfg.APIKey, endpoint: cfg.Endpoint,
			// A burst of a fifth of the minute's budget lets a poll read a
			// few pages at once while the average stays within it.
			limiter: rate.NewLimiter(rate.Limit(perMinute/60), max(1, cfg.RequestsPerMinute/5)),
			retries: cfg.Retries, backoff: cfg.RetryBackoff,
		},
		pipeline: pipeline, svc: svc, st: st,
	}
}

// Name is the source's name.
func (p *Poller) Name() string { return p.cfg.Name }

// checkpoint is the source's stored position.
type checkpoint struct {
	// The window being read, in epoch ms; To is 0 between windows.
	From   int64  `json:"from"`
	To     int64  `json:"to"`
	Cursor string `json:"cursor,omitempty"`
	// NextFrom starts the next window.
	NextFrom int64 `json:"nextFrom"`
	// LastEventAt is when a new event last arrived (or polling began).
	LastEventAt time.Time `json:"lastEventAt"`
}

func (p *Poller) checkpointName() string { return CheckpointName(p.cfg.Name) }

// CheckpointName is where a source's position is saved in the store.
func CheckpointName(source string) string { return "source:atlassian_audit:" + source }

func (p *Poller) now() time.Time { return p.cfg.Now().UTC() }

func (p *Poller) load(ctx context.Context) (checkpoint, error) {
	var raw string
	err := p.st.View(ctx, func(tx store.Tx) (err error) {
		raw, err = tx.GetCheckpoint(ctx, p.checkpointName())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		now := p.now()
		return checkpoint{NextFrom: now.Add(-p.cfg.InitialLookback).UnixMilli(), LastEventAt: now}, nil
	}
	if err != nil {
		return checkpoint{}, err
	}
	var cp checkpoint
	if err := json.Unmarshal([]byte(raw), &cp); err != nil {
		return checkpoint{}, fmt.Errorf("decode checkpoint of source %s: %w", p.cfg.Name, err)
	}
	return cp, nil
}

// PollStats says what one poll did.
type PollStats struct {
	Pages, Events, Duplicates, Raised int
}

// Poll reads every page from the checkpoint to now, applying each page and
// the checkpoint after it in one transaction: a restart resumes at the page
// after the last one committed, and re-reads nothing that counted. Then it
// raises the source's health alerts (no events, API key expiry) if due.
func (p *Poller) Poll(ctx context.Context) (PollStats, error) {
	stats, err := p.poll(ctx)
	if herr := p.health(ctx, err); herr != nil && err == nil {
		err = herr
	}
	return stats, err
}

func (p *Poller) poll(ctx context.Context) (PollStats, error) {
	var stats PollStats
	cp, err := p.load(ctx)
	if err != nil {
		return stats, err
	}
	if cp.To == 0 {
		cp.From, cp.To, cp.Cursor = cp.NextFrom, p.now().UnixMilli(), ""
	}
	for {
		pg, next, err := p.client.fetch(ctx, time.UnixMilli(cp.From), time.UnixMilli(cp.To), cp.Cursor)
		if errors.Is(err, errBadCursor) {
			// Start the window over: the event ids already applied are
			// skipped, so re-reading its first pages costs requests only.
			p.cfg.Logger.Warn("cursor refused; reading the window again", "error", err)
			cp.Cursor = ""
			continue
		}
		if err != nil {
			return stats, fmt.Errorf("poll source %s: %w", p.cfg.Name, err)
		}
		stats.Pages++
		received := p.now()
		events := make([]ruleengine.Event, len(pg.Data))
		for i, d := range pg.Data {
			events[i] = detection.NewEvent(detection.LogTypeAtlassianAudit, WithPantherShape(d), received)
		}
		ev, err := p.pipeline.Evaluate(ctx, events)
		if err != nil {
			return stats, err
		}
		nextCp := cp
		if next == "" {
			nextCp.To, nextCp.Cursor = 0, ""
			nextCp.NextFrom = max(cp.To-p.cfg.Overlap.Milliseconds(), cp.From)
		} else {
			nextCp.Cursor = next
		}
		var st detection.Stats
		err = p.svc.Batch().Do(ctx, func(tx store.Tx) (err error) {
			if st, err = p.pipeline.ApplyTx(ctx, tx, p.cfg.Name, ev); err != nil {
				return err
			}
			write := nextCp
			if st.Events > 0 {
				write.LastEventAt = received
			}
			raw, err := json.Marshal(write)
			if err != nil {
				return fmt.Errorf("encode checkpoint: %w", err)
			}
			if err := tx.PutCheckpoint(ctx, p.checkpointName(), string(raw), received); err != nil {
				return err
			}
			if next == "" {
				// Ids are kept well past any window that can be read again,
				// measured on our clock: event times can be anything.
				_, err = tx.PruneSourceEvents(ctx, p.cfg.Name, received.Add(-seenRetention))
			}
			return err
		})
		if err != nil {
			return stats, fmt.Errorf("poll source %s: apply page: %w", p.cfg.Name, err)
		}
		p.pipeline.Record(st)
		if st.Events > 0 {
			nextCp.LastEventAt = received
		}
		stats.Events += st.Events
		stats.Duplicates += st.Duplicates
		stats.Raised += st.Raised
		cp = nextCp
		if next == "" || stats.Pages >= maxPages {
			return stats, nil
		}
	}
}

// health raises the source's own alerts. Their alertIds are derived from
// what they report, so raising one again is a duplicate, not a new alert.
func (p *Poller) health(ctx context.Context, pollErr error) error {
	now := p.now()
	var items []lifecycle.Item
	cp, err := p.load(ctx)
	if err != nil {
		return err
	}
	if after := p.cfg.NoEventsAlertAfter; after > 0 && now.Sub(cp.LastEventAt) >= after {
		silent := now.Sub(cp.LastEventAt).Round(time.Minute)
		items = append(items, p.systemAlert("alertbridge.Source.NoEvents", alert.SeverityHigh,
			hashID("no-events", p.cfg.Name, cp.LastEventAt.Format(time.RFC3339Nano)), now,
			fmt.Sprintf("No Atlassian audit events from source %s for %s", p.cfg.Name, silent),
			"The Atlassian organization audit-log source has received no new events for longer than no_events_alert_after. "+
				"Either the organization is unusually quiet, or polling is failing (check the API key, the org ID and the server log).",
			map[string]any{"lastEventAt": cp.LastEventAt, "noEventsAlertAfter": p.cfg.NoEventsAlertAfter.String(), "lastError": errString(pollErr)}))
	}
	if exp := p.cfg.APIKeyExpires; !exp.IsZero() && !now.Before(exp.Add(-KeyExpiryWarning)) {
		days := int(math.Ceil(exp.Sub(now).Hours() / 24))
		title := fmt.Sprintf("The API key of Atlassian source %s expires in %d days (%s)", p.cfg.Name, days, exp.Format(time.DateOnly))
		if days <= 0 {
			title = fmt.Sprintf("The API key of Atlassian source %s expired on %s", p.cfg.Name, exp.Format(time.DateOnly))
		}
		// One a day at most: the day is part of its identity.
		items = append(items, p.systemAlert("alertbridge.Source.APIKeyExpiry", alert.SeverityMedium,
			hashID("api-key-expiry", p.cfg.Name, now.Format(time.DateOnly)), now, title,
			"Create a new organization API key in admin.atlassian.com, put it where api_key_env or api_key_file points, "+
				"update api_key_expires and restart alertbridge.",
			map[string]any{"apiKeyExpires": exp.Format(time.RFC3339)}))
	}
	var se *statusError
	if errors.As(pollErr, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		items = append(items, p.systemAlert("alertbridge.Source.AuthFailed", alert.SeverityHigh,
			hashID("auth-failed", p.cfg.Name, now.Truncate(time.Hour).Format(time.RFC3339)), now,
			fmt.Sprintf("Atlassian source %s cannot read the audit log: %d", p.cfg.Name, se.Status),
			"The Admin API refused the organization API key. Check that it is valid, not expired, and has access to the organization.",
			map[string]any{"status": se.Status}))
	}
	if len(items) == 0 {
		return nil
	}
	_, err = p.svc.Ingest(ctx, items)
	return err
}

func (p *Poller) systemAlert(ruleID string, sev alert.Severity, alertID string, now time.Time, title, desc string, ctx map[string]any) lifecycle.Item {
	ctx["source"], ctx["orgId"] = p.cfg.Name, p.cfg.OrgID
	raw, _ := json.Marshal(ctx) // strings, times and numbers: cannot fail
	return lifecycle.Item{Actor: "source:" + p.cfg.Name, Alert: &alert.Alert{
		ID: ruleID, AlertID: alertID, CreatedAt: now, Severity: sev, Type: alert.TypeSystemError,
		Title: title, Name: "Atlassian audit-log source", Description: desc, Tags: []string{"alertbridge", "source-health"},
		Context: raw, LogTypes: []string{detection.LogTypeAtlassianAudit}, Source: alert.SourceSystem,
		Status: alert.StatusOpen, UpdatedAt: now,
	}}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// hashID names a system alert by what it reports.
func hashID(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return "sys-" + hex.EncodeToString(h.Sum(nil))[:28]
}
