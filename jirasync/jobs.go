// Package jirasync is the outbound half of alert ↔ Jira sync: it turns an
// alert's status, assignee and comment changes into durable jobs, written in
// the change's own transaction, that bring each linked Jira issue into step.
// A change that came from a destination is not sent back to it; the inbound
// half (jirahook) recognises the webhooks our own requests cause.
package jirasync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/alerts"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/store"
)

// Queue is the River queue sync jobs run on.
const Queue = "jira_sync"

// What a sync job brings into step.
const (
	WhatStatus   = "status"
	WhatAssignee = "assignee"
	WhatComment  = "comment"
)

// Timeline actions of sync jobs.
const (
	ActionSynced     = "jira_synced"
	ActionSyncFailed = "jira_sync_failed"
)

// Args is one durable sync job: one kind of change of one alert, for one
// destination's issue. Status and assignee jobs carry the change for the
// record but sync the alert's state as it is when the job runs, so jobs that
// run out of order or twice still end at the latest state.
type Args struct {
	AlertID     string       `json:"alertId"`
	Destination string       `json:"destination"`
	What        string       `json:"what"`
	Actor       string       `json:"actor,omitempty"`
	From        alert.Status `json:"from,omitempty"`
	To          alert.Status `json:"to,omitempty"`
	CommentID   int64        `json:"commentId,omitempty"`
}

// Kind is River's name for the job.
func (Args) Kind() string { return "jira_sync" }

// InsertOpts puts sync jobs on their own queue, so a slow Jira does not hold
// up deliveries.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 10}
}

// Destination is one Jira destination as sync sees it.
type Destination struct {
	Name   string
	Client *jira.Client
	Sync   config.JiraSync
}

// Options tune a Syncer.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// UserTTL is how long a found e-mail → user mapping is trusted; default
	// 24h. A miss is retried after a tenth of that, since the user may be
	// added to Jira soon after an alert is assigned to them.
	UserTTL time.Duration
	// MaxHops bounds a path of transitions to a status; default 5.
	MaxHops int
}

// Syncer enqueues and works sync jobs.
type Syncer struct {
	st    store.Store
	dests map[string]*Destination
	opts  Options
	q     *delivery.Queue
}

// New builds a syncer for the destinations that sync anything.
func New(st store.Store, dests []Destination, opts Options) *Syncer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UserTTL <= 0 {
		opts.UserTTL = 24 * time.Hour
	}
	if opts.MaxHops <= 0 {
		opts.MaxHops = 5
	}
	s := &Syncer{st: st, dests: map[string]*Destination{}, opts: opts}
	for i := range dests {
		d := dests[i]
		if on(d.Sync.Status) || on(d.Sync.Assignee) || on(d.Sync.Comments) {
			s.dests[d.Name] = &d
		}
	}
	return s
}

// Register adds the sync worker to the queue's workers (delivery.Config.Register).
func (s *Syncer) Register(w *river.Workers) { river.AddWorker(w, &worker{s: s}) }

// QueueConfig is the River queue sync jobs need (delivery.Config.ExtraQueues).
func QueueConfig() river.QueueConfig { return river.QueueConfig{MaxWorkers: 20} }

// SetQueue gives the syncer the queue to insert its jobs into; the queue is
// built after the syncer because the syncer's worker is part of it.
func (s *Syncer) SetQueue(q *delivery.Queue) { s.q = q }

func on(m config.SyncMode) bool { return m == config.SyncOneWay || m == config.SyncTwoWay }

// OnChange is alerts.Options.OnChange: it inserts, in the change's
// transaction, a job for every linked issue whose destination syncs that
// kind of change — except the destination the change came from.
func (s *Syncer) OnChange(ctx context.Context, tx store.Tx, c alerts.Change) error {
	if len(s.dests) == 0 || s.q == nil {
		return nil
	}
	issues, err := tx.ListIssues(ctx, c.AlertID)
	if err != nil {
		return err
	}
	var params []river.InsertManyParams
	for _, is := range issues {
		d := s.dests[is.Destination]
		if d == nil || is.Destination == c.Origin {
			continue
		}
		base := Args{AlertID: c.AlertID, Destination: d.Name, Actor: c.Actor}
		if c.NewStatus != "" && on(d.Sync.Status) {
			a := base
			a.What, a.From, a.To = WhatStatus, c.OldStatus, c.NewStatus
			params = append(params, river.InsertManyParams{Args: a})
		}
		if c.AssigneeChanged && on(d.Sync.Assignee) {
			a := base
			a.What = WhatAssignee
			params = append(params, river.InsertManyParams{Args: a})
		}
		if c.Comment != nil && on(d.Sync.Comments) {
			a := base
			a.What, a.CommentID = WhatComment, c.Comment.ID
			params = append(params, river.InsertManyParams{Args: a})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if err := s.q.InsertTx(ctx, tx, params...); err != nil {
		return fmt.Errorf("queue Jira sync of alert %s: %w", c.AlertID, err)
	}
	return nil
}
