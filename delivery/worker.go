package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/store"
)

// Args is a delivery job: it names the delivery row, which holds the state.
type Args struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind names the job for River.
func (Args) Kind() string { return "deliver" }

type worker struct {
	river.WorkerDefaults[Args]
	d *Deliverer
}

// claimLost is how long a run waits when another run claimed the delivery
// between our read and our claim: that run is sending now, and its outcome
// will be in the row soon.
const claimLost = time.Second

func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	dl := w.d
	var (
		d        *store.Delivery
		a        *alert.Alert
		issue    *alert.Issue
		siblings []store.Delivery
	)
	// One statement outside a transaction, shared with the attempts
	// starting together: the delivery, its alert and its issue are one
	// moment's.
	work, err := dl.works.read(ctx, job.Args.DeliveryID)
	if err == nil {
		d, a, issue = &work.Delivery, work.Alert, work.Issue
	}
	if err == nil && issue == nil && d.Reason == store.ReasonManual {
		// A manual dispatch of an unlinked alert: earlier deliveries of it
		// to this destination may have reached it unanswered.
		err = dl.st.View(ctx, func(tx store.Tx) (err error) {
			siblings, err = tx.ListDeliveries(ctx, d.AlertID)
			return err
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("delivery %d: %w", job.Args.DeliveryID, err))
	}
	if err != nil {
		return err
	}
	if d.State == store.DeliveryDelivered || d.State == store.DeliveryFailed {
		// The outcome was recorded but the job's completion was lost (a
		// crash in between): nothing left to do.
		return nil
	}
	n, ok := (*dl.notifiers.Load())[d.Destination]
	if !ok {
		err := destination.Permanent(fmt.Errorf("destination %q is no longer configured", d.Destination))
		return w.record(ctx, job, d, a, destination.Receipt{}, err)
	}
	before := *d
	now := dl.cfg.Now().UTC()
	claimed, err := dl.claim(ctx, d, before, now)
	if err != nil {
		return fmt.Errorf("claim delivery %d: %w", d.ID, err)
	}
	if !claimed {
		return river.JobSnooze(claimLost)
	}
	start := time.Now()
	receipt, nerr := n.Notify(ctx, destination.Notification{
		Alert:       a,
		DeliveryID:  d.ID,
		Attempt:     d.Attempts,
		Test:        a.Source == alert.SourceTest,
		Issue:       issue,
		Reopened:    d.Reason == store.ReasonReopened,
		LastAttempt: w.lastSent(&before, siblings, now),
	})
	dl.cfg.Metrics.observeAttempt(d.Destination, time.Since(start))
	// River cancels a job's context on a hard stop (with a cause of its
	// own, so nerr need not say Canceled), and times it out at JobTimeout:
	// the first is shutdown, the second a failed attempt like any other.
	if nerr != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Cut short by shutdown, which is not the destination's fault: try
		// again at the next start without spending an attempt of River's.
		// The claim stays in the row, because the attempt may have reached
		// the destination, and the next one must look before it sends.
		return w.interrupted(context.WithoutCancel(ctx), d)
	}
	// The outcome is written even when the attempt's context has ended.
	return w.record(context.WithoutCancel(ctx), job, d, a, receipt, nerr)
}

// lastSent tells the notifier when an earlier attempt may last have sent
// something, from our rows alone (zero: no earlier attempt can have):
//
//   - an attempt whose outcome was recorded ended at the row's UpdatedAt;
//   - an attempt that was claimed and never recorded (its process died, or
//     it was cut short) may have sent until its start plus AttemptBound,
//     and at the latest until now;
//   - another delivery of the same alert to the same destination (before
//     a manual dispatch) may have sent, unanswered, and left no link.
func (w *worker) lastSent(d *store.Delivery, siblings []store.Delivery, now time.Time) time.Time {
	var last time.Time
	switch {
	case !d.SendingSince.IsZero():
		last = d.SendingSince.Add(w.d.cfg.AttemptBound)
		if last.After(now) {
			last = now
		}
	case d.Attempts > 0:
		last = d.UpdatedAt
	}
	for _, o := range siblings {
		if o.ID != d.ID && o.Destination == d.Destination && o.Attempts > 0 && o.State != store.DeliveryDelivered {
			if t := w.lastSent(&store.Delivery{Attempts: o.Attempts, SendingSince: o.SendingSince, UpdatedAt: o.UpdatedAt}, nil, now); t.After(last) {
				last = t
			}
		}
	}
	return last
}

// interrupted records an attempt cut short by shutdown and hands the job
// back for the next start.
func (w *worker) interrupted(ctx context.Context, d *store.Delivery) error {
	d.UpdatedAt = w.d.cfg.Now().UTC()
	d.State = store.DeliveryRetrying
	d.LastError = "interrupted by shutdown; the destination may have received it"
	if err := w.d.write(ctx, func(tx store.Tx) error { return tx.UpdateDelivery(ctx, d) }); err != nil {
		return fmt.Errorf("record interrupted delivery %d: %w", d.ID, err)
	}
	return river.JobSnooze(0)
}

// record writes the attempt's outcome and returns the jobs layer's decision.
func (w *worker) record(ctx context.Context, job *river.Job[Args], d *store.Delivery, a *alert.Alert, receipt destination.Receipt, nerr error) error {
	dl := w.d
	now := dl.cfg.Now().UTC()
	d.UpdatedAt, d.SendingSince = now, time.Time{}
	decision := jobs.Decide(nerr, job.Attempt, job.MaxAttempts)
	var (
		outcome string
		event   *alert.Event
	)
	switch decision.Kind {
	case jobs.Done:
		d.State, d.LastError, outcome = store.DeliveryDelivered, "", "delivered"
		detail := d.Destination
		if receipt.Issue != nil {
			detail += ": " + receipt.Issue.Key
		}
		if receipt.Detail != "" {
			detail += " (" + receipt.Detail + ")"
		}
		event = &alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionDelivered, Detail: detail}
	case jobs.Cancel, jobs.GiveUp:
		d.State, d.LastError, outcome = store.DeliveryFailed, nerr.Error(), "failed"
		event = &alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionDeliveryFailed,
			Detail: fmt.Sprintf("%s after %d attempts: %s", d.Destination, d.Attempts, d.LastError)}
	case jobs.Snooze:
		d.State, d.LastError, outcome = store.DeliveryRetrying, nerr.Error(), "snoozed"
	default:
		d.State, d.LastError, outcome = store.DeliveryRetrying, nerr.Error(), "retry"
	}
	err := dl.write(ctx, func(tx store.Tx) error {
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		if receipt.Issue != nil {
			// The alert first, as every change to it and its issue takes
			// it, so that linking and syncing lock in one order.
			if _, err := tx.LockAlert(ctx, d.AlertID); err != nil {
				return err
			}
			is := *receipt.Issue
			is.Destination = d.Destination
			if err := tx.UpsertIssue(ctx, d.AlertID, is); err != nil {
				return err
			}
			if dl.cfg.OnLinked != nil {
				if err := dl.cfg.OnLinked(ctx, tx, d.AlertID, d.Destination); err != nil {
					return err
				}
			}
		}
		if event != nil {
			if err := tx.AddEvent(ctx, d.AlertID, *event); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery %d: %w", d.ID, err)
	}
	dl.health.note(d.Destination, now, d.LastError)
	dl.cfg.Metrics.observeOutcome(d, outcome, a, now)
	if nerr != nil {
		dl.cfg.Logger.Warn("delivery attempt failed", "destination", d.Destination, "alert_id", d.AlertID,
			"delivery_id", d.ID, "attempt", d.Attempts, "state", d.State, "error", nerr)
	}
	return decision.River()
}
