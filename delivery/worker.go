package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
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
	q *Queue
}

func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	st := w.q.st
	var (
		d        *store.Delivery
		a        *alert.Alert
		issue    *alert.Issue
		siblings []store.Delivery
	)
	err := st.View(ctx, func(tx store.Tx) (err error) {
		if d, err = tx.GetDelivery(ctx, job.Args.DeliveryID); err != nil {
			return err
		}
		if a, err = tx.GetAlert(ctx, d.AlertID); err != nil {
			return err
		}
		issue, err = tx.GetIssue(ctx, d.AlertID, d.Destination)
		if errors.Is(err, store.ErrNotFound) {
			issue, err = nil, nil
		}
		if err != nil || issue != nil || d.Reason != store.ReasonManual {
			return err
		}
		// A manual dispatch of an unlinked alert: earlier deliveries of it
		// to this destination may have reached it unanswered.
		siblings, err = tx.ListDeliveries(ctx, d.AlertID)
		return err
	})
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
	n, ok := w.q.cfg.Notifiers[d.Destination]
	if !ok {
		err := destination.Permanent(fmt.Errorf("destination %q is no longer configured", d.Destination))
		return w.record(ctx, job, d, a, destination.Receipt{}, err)
	}
	attempt, last := w.prior(job, d, siblings)
	start := time.Now()
	receipt, nerr := n.Notify(ctx, destination.Notification{
		Alert:       a,
		DeliveryID:  d.ID,
		Attempt:     attempt,
		Test:        a.Source == alert.SourceTest,
		Issue:       issue,
		LastAttempt: last,
	})
	w.q.cfg.Metrics.observeAttempt(d.Destination, time.Since(start))
	// River cancels a job's context on a hard stop (with a cause of its
	// own, so nerr need not say Canceled), and times it out at JobTimeout:
	// the first is shutdown, the second a failed attempt like any other.
	if nerr != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Cut short by shutdown, which is not the destination's fault: try
		// again at the next start without spending River's budget. The
		// attempt is still recorded, because it may have reached the
		// destination, and the next one must know to look before it sends.
		return w.interrupted(context.WithoutCancel(ctx), d)
	}
	// The outcome is written even when the attempt's context has ended.
	return w.record(context.WithoutCancel(ctx), job, d, a, receipt, nerr)
}

// prior tells the notifier how many attempts came before this one and when
// the last of them may have sent something. Our delivery row counts the
// attempts whose outcome was recorded; two kinds it cannot count:
//
//   - River counts attempts that never reached record (the process died
//     mid-delivery). Such an attempt may have sent anything up to the
//     moment this process started.
//   - Another delivery of the same alert to the same destination (before a
//     manual dispatch) may have sent, unanswered, and left no link.
func (w *worker) prior(job *river.Job[Args], d *store.Delivery, siblings []store.Delivery) (attempt int, last time.Time) {
	attempt = d.Attempts + 1
	if d.Attempts > 0 {
		last = d.UpdatedAt
	}
	if job.Attempt > 1+len(job.Errors) {
		attempt = max(attempt, 2)
		if d.UpdatedAt.Before(w.q.started) {
			last = w.q.started
		}
	}
	for _, o := range siblings {
		if o.ID != d.ID && o.Destination == d.Destination && o.Attempts > 0 && o.State != store.DeliveryDelivered {
			attempt = max(attempt, 2)
			if o.UpdatedAt.After(last) {
				last = o.UpdatedAt
			}
		}
	}
	return attempt, last
}

// interrupted records an attempt cut short by shutdown and hands the job
// back for the next start.
func (w *worker) interrupted(ctx context.Context, d *store.Delivery) error {
	d.Attempts++
	d.UpdatedAt = time.Now().UTC()
	d.State = store.DeliveryRetrying
	d.LastError = "interrupted by shutdown; the destination may have received it"
	if err := w.q.write(ctx, func(tx store.Tx) error { return tx.UpdateDelivery(ctx, d) }); err != nil {
		return fmt.Errorf("record interrupted delivery %d: %w", d.ID, err)
	}
	return river.JobSnooze(0)
}

// record writes the attempt's outcome and tells River what to do next.
func (w *worker) record(ctx context.Context, job *river.Job[Args], d *store.Delivery, a *alert.Alert, receipt destination.Receipt, nerr error) error {
	now := time.Now().UTC()
	d.Attempts++
	d.UpdatedAt = now
	var (
		next    error
		outcome string
		event   *alert.Event
	)
	switch delay, snooze := destination.RetryDelay(nerr); {
	case nerr == nil:
		d.State, d.LastError, outcome = store.DeliveryDelivered, "", "delivered"
		detail := d.Destination
		if receipt.Issue != nil {
			detail += ": " + receipt.Issue.Key
		}
		if receipt.Detail != "" {
			detail += " (" + receipt.Detail + ")"
		}
		event = &alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionDelivered, Detail: detail}
	case destination.IsPermanent(nerr):
		d.State, d.LastError, outcome = store.DeliveryFailed, nerr.Error(), "failed"
		next = river.JobCancel(nerr)
	case snooze:
		d.State, d.LastError, outcome = store.DeliveryRetrying, nerr.Error(), "snoozed"
		next = river.JobSnooze(delay)
	case job.Attempt >= job.MaxAttempts:
		d.State, d.LastError, outcome = store.DeliveryFailed, nerr.Error(), "failed"
		next = nerr
	default:
		d.State, d.LastError, outcome = store.DeliveryRetrying, nerr.Error(), "retry"
		next = nerr
	}
	if d.State == store.DeliveryFailed {
		event = &alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionDeliveryFailed,
			Detail: fmt.Sprintf("%s after %d attempts: %s", d.Destination, d.Attempts, d.LastError)}
	}
	err := w.q.write(ctx, func(tx store.Tx) error {
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		if receipt.Issue != nil {
			is := *receipt.Issue
			is.Destination = d.Destination
			if err := tx.UpsertIssue(ctx, d.AlertID, is); err != nil {
				return err
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
	w.q.health.note(d.Destination, now, d.LastError)
	w.q.cfg.Metrics.observeOutcome(d, outcome, a, now)
	if nerr != nil {
		w.q.cfg.Logger.Warn("delivery attempt failed", "destination", d.Destination, "alert_id", d.AlertID,
			"delivery_id", d.ID, "attempt", d.Attempts, "state", d.State, "error", nerr)
	}
	return next
}
