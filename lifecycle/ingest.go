package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

// Item is one alert to accept.
type Item struct {
	Alert *alert.Alert
	// Resolved marks a notification that the alert has ended (Alertmanager's
	// "resolved"): it resolves a stored alert instead of raising one.
	Resolved bool
	// Actor names who sent it, for the timeline.
	Actor string
	// Truncated, when set, says that the sender left alerts out of the
	// notification this item came in (Alertmanager's truncatedAlerts). It
	// goes on the alert's timeline whatever else accepting the item does,
	// a repeat included: the alerts left out are in no alert of their own,
	// so the ones that came are where the news can be seen.
	Truncated string
	// Group is the Alertmanager or Grafana group the item came in, shared
	// by the items of one notification; nil for alerts of other senders.
	Group *Group
}

// ActionTruncated is the timeline action of an Item's Truncated note.
const ActionTruncated = "notification_truncated"

// Result says what accepting one item did.
type Result struct {
	AlertID      string
	Duplicate    bool
	Reopened     bool
	Resolved     bool
	Destinations []string
}

// ErrClosed is returned by Ingest after Close.
var ErrClosed = store.ErrBatchClosed

// Ingest accepts alerts. When it returns without error they are on disk with
// their deliveries queued. Items of one call commit together, in a
// transaction shared with concurrent calls, and concurrent calls are
// accepted together (see acceptCalls).
func (s *Service) Ingest(ctx context.Context, items []Item) ([]Result, error) {
	return s.accept.Do(ctx, items)
}

// AcceptTx accepts alerts inside the caller's transaction, for writers that
// must commit an alert together with state of their own (a detection's
// dedup group, a source's checkpoint).
func (s *Service) AcceptTx(ctx context.Context, tx store.Tx, items []Item) ([]Result, error) {
	rs, err := s.acceptCalls(ctx, tx, [][]Item{items})
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// Batch is the group committer the service writes through, for callers of
// AcceptTx that want their commits shared too.
func (s *Service) Batch() *store.Batcher { return s.batch }

// accepting is what one acceptCalls holds across its calls: the
// deliveries their alerts made, which go in together at the end (one
// statement on PostgreSQL, where each statement that returns something is
// a round trip).
type accepting struct {
	svc        *Service
	deliveries []*store.Delivery
	// Deliveries before mark were made by earlier calls; those before
	// stored are in the database already.
	mark, stored int
}

// changed hands a change made while accepting to the OnChange hook, after
// writing the deliveries of earlier calls: accepted one call after
// another, each call's deliveries were in by the time the next call ran,
// and the hook reads the database.
func (a *accepting) changed(ctx context.Context, tx store.Tx, c Change) error {
	if a.svc.onChange == nil {
		return nil
	}
	if a.mark > a.stored {
		ds := a.deliveries[a.stored:a.mark]
		a.stored = a.mark
		if err := a.svc.q.Enqueue(ctx, tx, ds); err != nil {
			return err
		}
	}
	return a.svc.onChange(ctx, tx, c)
}

// deliver queues a delivery made while accepting.
func (a *accepting) deliver(d *store.Delivery) { a.deliveries = append(a.deliveries, d) }

// acceptCalls accepts the items of several calls in one transaction, with
// the outcome each call would have had accepted alone, one call after
// another in the order given: a group commit's concurrent Ingest calls
// (or one AcceptTx) cost a fixed number of statements instead of a few
// per alert.
//
// Firing items whose alert no other item names (nor is any item's group)
// go in first, all in one statement (insertable); only whether each was
// new is needed of it, and nothing the other items do can change that.
// Every other item, and everything after the insert, runs in order as it
// would alone. Deliveries go in together at the end, or before an OnChange
// hook when earlier calls made some (see storeEarlier).
func (s *Service) acceptCalls(ctx context.Context, tx store.Tx, calls [][]Item) ([][]Result, error) {
	acc := &accepting{svc: s}
	inserted, err := s.insertNew(ctx, tx, calls)
	if err != nil {
		return nil, err
	}
	out := make([][]Result, len(calls))
	for c, items := range calls {
		acc.mark = len(acc.deliveries)
		results := make([]Result, len(items))
		groups := map[string]*groupWork{}
		for i, it := range items {
			res, err := s.apply(ctx, tx, it, inserted[c][i], acc, groups)
			if err == nil && it.Truncated != "" {
				err = tx.AddEvent(ctx, it.Alert.AlertID, alert.Event{At: s.now(), Actor: it.Actor, Action: ActionTruncated, Detail: it.Truncated})
			}
			if err != nil {
				return nil, fmt.Errorf("accept alert %s: %w", it.Alert.AlertID, err)
			}
			results[i] = res
		}
		if err := s.applyGroups(ctx, tx, groups, acc); err != nil {
			return nil, err
		}
		out[c] = results
	}
	if err := s.q.Enqueue(ctx, tx, acc.deliveries[acc.stored:]); err != nil {
		return nil, err
	}
	return out, nil
}

// insertAnswer is what the one insert up front said of an item.
type insertAnswer int8

const (
	notInsertedYet insertAnswer = iota // the item inserts its alert itself, in order
	insertedNew                        // the insert up front stored it
	existed                            // the alert was stored already
)

// insertNew inserts up front the alerts of the items insertable picks,
// in one statement.
func (s *Service) insertNew(ctx context.Context, tx store.Tx, calls [][]Item) ([][]insertAnswer, error) {
	pick := insertable(calls)
	out := make([][]insertAnswer, len(calls))
	var as []*alert.Alert
	for c, items := range calls {
		out[c] = make([]insertAnswer, len(items))
		for i, it := range items {
			if pick[c][i] {
				as = append(as, it.Alert)
			}
		}
	}
	if len(as) == 0 {
		return out, nil
	}
	ok, err := tx.InsertAlerts(ctx, as)
	if err != nil {
		return nil, fmt.Errorf("accept %d alerts: %w", len(as), err)
	}
	n := 0
	for c, items := range calls {
		for i := range items {
			if pick[c][i] {
				out[c][i] = existed
				if ok[n] {
					out[c][i] = insertedNew
				}
				n++
			}
		}
	}
	return out, nil
}

// insertable picks the items whose alert can be inserted before any item
// is applied, with the same answer as in order: firing items whose alert
// ID no other item of any call has and that is no item's group alert.
// Whether such an alert is new then depends only on what was stored
// before, because no other item writes it: a resolved item of the same
// alert (which may insert or change it), a second copy (an HA pair of
// Alertmanagers sends each notification twice), or a group being created
// under that ID would, and those items all go in order.
func insertable(calls [][]Item) [][]bool {
	seen := map[string]int{}
	for _, items := range calls {
		for _, it := range items {
			seen[it.Alert.AlertID]++
			if it.Group != nil {
				// Counted twice: never picked.
				seen[GroupAlertID(it.Group.Sender, it.Group.Key)] += 2
			}
		}
	}
	out := make([][]bool, len(calls))
	for c, items := range calls {
		out[c] = make([]bool, len(items))
		for i, it := range items {
			out[c][i] = !it.Resolved && seen[it.Alert.AlertID] == 1
		}
	}
	return out
}

// apply accepts one item inside a group commit.
func (s *Service) apply(ctx context.Context, tx store.Tx, it Item, pre insertAnswer, acc *accepting, groups map[string]*groupWork) (Result, error) {
	a := it.Alert
	res := Result{AlertID: a.AlertID}
	now := s.now()
	if it.Resolved {
		res, err := s.applyResolved(ctx, tx, it, now, acc)
		switch {
		case err != nil || it.Group == nil:
		case res.Duplicate:
			s.seenInGroup(groups, it)
		default:
			w := workOf(groups, it.Group, it.Actor)
			w.resolved = append(w.resolved, a)
		}
		return res, err
	}
	inserted := pre == insertedNew
	if pre == notInsertedYet {
		var err error
		if inserted, err = tx.InsertAlert(ctx, a); err != nil {
			return res, err
		}
	}
	if !inserted {
		res.Duplicate = true
		if !a.Source.Refires() {
			return res, nil
		}
		// Alertmanager fires the same fingerprint again after resolving it:
		// the alert is back, so reopen it rather than drop the news.
		cur, err := tx.LockAlert(ctx, a.AlertID)
		if err != nil {
			return res, err
		}
		if cur.Status.Firing() {
			s.seenInGroup(groups, it)
			if !a.StateSince.Truncate(time.Microsecond).After(firingSince(cur)) {
				return res, nil
			}
			// A firing that began after the stored one: the sender resolved
			// and fired it again between two notifications. Kept, so that a
			// late copy of the earlier firing's end does not resolve this one.
			cur.StateSince = a.StateSince
			return res, tx.UpdateAlertState(ctx, cur)
		}
		if cur.Status != alert.StatusResolved || staleNotice(cur, false, a.StateSince) {
			return res, nil
		}
		old := cur.Status
		cur.Status, cur.UpdatedAt, cur.StateSince = alert.StatusOpen, now, a.StateSince
		res.Reopened = true
		if err := tx.UpdateAlertState(ctx, cur); err != nil {
			return res, err
		}
		if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionReopened, Detail: "firing again"}); err != nil {
			return res, err
		}
		if it.Group != nil {
			w := workOf(groups, it.Group, it.Actor)
			w.back = append(w.back, a)
			s.seenInGroup(groups, it)
		}
		return res, acc.changed(ctx, tx, Change{AlertID: a.AlertID, Actor: it.Actor, OldStatus: old, NewStatus: alert.StatusOpen, Reopened: true})
	}
	d := route.Route(route.InputOf(a), s.routes())
	action := alert.ActionRouted
	if len(d.Destinations) == 0 {
		action = alert.ActionUnrouted
	}
	events := []alert.Event{
		{At: now, Actor: it.Actor, Action: alert.ActionCreated, Detail: "from " + string(a.Source)},
		{At: now, Actor: "alertbridge", Action: action, Detail: d.String()},
	}
	own := d.Destinations
	if it.Group != nil {
		var grouped []string
		if own, grouped = s.groupDestinations(d.Destinations); len(grouped) > 0 {
			w := workOf(groups, it.Group, it.Actor)
			w.dests = appendNew(w.dests, grouped...)
			w.joined = append(w.joined, a)
			events = append(events, groupedEvent(it.Group, grouped, now))
		}
	}
	if err := tx.AddEvents(ctx, a.AlertID, events...); err != nil {
		return res, err
	}
	for _, name := range own {
		acc.deliver(&store.Delivery{AlertID: a.AlertID, Destination: name, Reason: store.ReasonRouted,
			State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now})
	}
	res.Destinations = d.Destinations
	return res, nil
}

func (s *Service) applyResolved(ctx context.Context, tx store.Tx, it Item, now time.Time, acc *accepting) (Result, error) {
	a := it.Alert
	res := Result{AlertID: a.AlertID, Resolved: true}
	cur, err := tx.LockAlert(ctx, a.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		// Resolved before we ever saw it firing: keep the record, but there
		// is nothing left for anyone to act on, so it goes nowhere.
		a.Status = alert.StatusResolved
		if _, err := tx.InsertAlert(ctx, a); err != nil {
			return res, err
		}
		if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionCreated, Detail: "from " + string(a.Source)}); err != nil {
			return res, err
		}
		return res, tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionUnrouted,
			Detail: "first seen already resolved; not routed"})
	}
	if err != nil {
		return res, err
	}
	if cur.Status == alert.StatusResolved || cur.Status == alert.StatusClosed || staleNotice(cur, true, a.StateSince) {
		res.Duplicate = true
		return res, nil
	}
	old := cur.Status
	detail := fmt.Sprintf("%s → %s", cur.Status, alert.StatusResolved)
	cur.Status, cur.UpdatedAt, cur.StateSince = alert.StatusResolved, now, a.StateSince
	if err := tx.UpdateAlertState(ctx, cur); err != nil {
		return res, err
	}
	if err := tx.AddEvent(ctx, a.AlertID, alert.Event{At: now, Actor: it.Actor, Action: alert.ActionStatusChanged, Detail: detail}); err != nil {
		return res, err
	}
	return res, acc.changed(ctx, tx, Change{AlertID: a.AlertID, Actor: it.Actor, OldStatus: old, NewStatus: alert.StatusResolved})
}

// appendNew appends the names list does not hold yet.
func appendNew(list []string, names ...string) []string {
	for _, n := range names {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	return list
}
