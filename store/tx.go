package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// tx implements Tx once for both dialects.
type tx struct {
	q   querier
	raw any
	// forUpdate is appended to a select that locks rows; empty on SQLite,
	// whose writer transaction already excludes every other writer.
	forUpdate string
	// ilike matches text ignoring ASCII case, as SQLite's LIKE (used when
	// it is "") does: on PostgreSQL ILIKE in the C collation, whose
	// ASCII-only folding measured twice as fast over alert bodies as the
	// database's own.
	ilike string
	// postgres selects the statements that take arrays (unnest), which
	// write many rows in one round trip; SQLite, in process, has no round
	// trips to save and runs one cached statement per row.
	postgres bool
	lock     func(ctx context.Context, key int64) error
	// failed is an error of held statements sent outside any call that
	// could return it (see Raw); the transaction must not commit.
	failed error
	// gathered holds what BeforeCommit gathers, by key, and the order in
	// which their flushes run.
	gathered map[any]any
	flushes  []func(context.Context) error
}

// beforeCommit runs the flushes gathered in t.
func (t *tx) beforeCommit(ctx context.Context) error {
	for i := 0; i < len(t.flushes); i++ {
		if err := t.flushes[i](ctx); err != nil {
			return err
		}
	}
	return nil
}

// Gather returns the value kept in tx under key, made by mk on first use,
// whose flush then runs once, just before tx commits. Writes that each
// function of a group commit makes alike (the jobs of each alert's
// deliveries) are so sent as one, once per transaction. A tx not from
// this package has nowhere to keep it: Gather returns nil.
func Gather[T any](t Tx, key any, mk func() *T, flush func(ctx context.Context, v *T) error) *T {
	x, ok := t.(*tx)
	if !ok {
		return nil
	}
	if v, ok := x.gathered[key]; ok {
		return v.(*T)
	}
	if x.gathered == nil {
		x.gathered = map[any]any{}
	}
	v := mk()
	x.gathered[key] = v
	x.flushes = append(x.flushes, func(ctx context.Context) error { return flush(ctx, v) })
	return v
}

// Raw hands the driver's transaction to River, which speaks to it
// directly: what the pipe holds goes first, so that River's statements
// follow ours in order. An error there fails the transaction at commit.
func (t *tx) Raw() any {
	if p, ok := t.q.(*pgxPipe); ok {
		if t.failed == nil {
			t.failed = p.flush(context.Background())
		}
		if t.failed == nil {
			// Begun here if no statement of ours went first.
			raw, err := p.begin(context.Background())
			if err != nil {
				t.failed = err
			}
			return raw
		}
		return p.tx
	}
	return t.raw
}

func (t *tx) AdvisoryLock(ctx context.Context, key int64) error {
	if t.lock == nil {
		return nil
	}
	return t.lock(ctx, key)
}

// alertBody is the stored JSON of an alert: everything but the mutable
// state, which has columns of its own.
type alertBody alert.Alert

func (t *tx) InsertAlert(ctx context.Context, a *alert.Alert) (bool, error) {
	body, err := json.Marshal((*alertBody)(a))
	if err != nil {
		return false, fmt.Errorf("insert alert %s: encode: %w", a.AlertID, err)
	}
	n, err := t.q.exec(ctx, `INSERT INTO alerts
		(alert_id, rule_id, severity, type, status, assignee, source, created_at, updated_at, state_since, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (alert_id) DO NOTHING`,
		a.AlertID, a.ID, string(a.Severity), string(a.Type), string(a.Status), a.Assignee,
		string(a.Source), micros(a.CreatedAt), micros(a.UpdatedAt), micros(a.StateSince), string(body))
	if err != nil {
		return false, fmt.Errorf("insert alert %s: %w", a.AlertID, err)
	}
	return n == 1, nil
}

// insertAlertsPG inserts many alerts in one statement and names those it
// inserted. The rows go in the order of the arrays, so of two rows with
// the same alert_id the first is the one inserted.
const insertAlertsPG = `INSERT INTO alerts
	(alert_id, rule_id, severity, type, status, assignee, source, created_at, updated_at, state_since, body)
	SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
		?::bigint[], ?::bigint[], ?::bigint[], ?::text[])
	ON CONFLICT (alert_id) DO NOTHING
	RETURNING alert_id`

func (t *tx) InsertAlerts(ctx context.Context, as []*alert.Alert) ([]bool, error) {
	out := make([]bool, len(as))
	if !t.postgres || len(as) == 1 {
		for i, a := range as {
			var err error
			if out[i], err = t.InsertAlert(ctx, a); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if len(as) == 0 {
		return out, nil
	}
	var (
		ids, rules, sevs, types, statuses, assignees, sources, bodies = make([]string, len(as)), make([]string, len(as)),
			make([]string, len(as)), make([]string, len(as)), make([]string, len(as)), make([]string, len(as)),
			make([]string, len(as)), make([]string, len(as))
		created, updated, since = make([]int64, len(as)), make([]int64, len(as)), make([]int64, len(as))
	)
	for i, a := range as {
		body, err := json.Marshal((*alertBody)(a))
		if err != nil {
			return nil, fmt.Errorf("insert alert %s: encode: %w", a.AlertID, err)
		}
		ids[i], rules[i], sevs[i], types[i], statuses[i], assignees[i], sources[i], bodies[i] =
			a.AlertID, a.ID, string(a.Severity), string(a.Type), string(a.Status), a.Assignee, string(a.Source), string(body)
		created[i], updated[i], since[i] = micros(a.CreatedAt), micros(a.UpdatedAt), micros(a.StateSince)
	}
	inserted := make(map[string]bool, len(as))
	if err := into(inserted)(t.q.query(ctx, insertAlertsPG, ids, rules, sevs, types, statuses, assignees, sources, created, updated, since, bodies)); err != nil {
		return nil, fmt.Errorf("insert %d alerts: %w", len(as), err)
	}
	for i, id := range ids {
		if inserted[id] {
			out[i], inserted[id] = true, false
		}
	}
	return out, nil
}

// into reads a query's one column into set, closing the rows; a query
// that failed hands its error through: into(set)(t.q.query(...)).
func into[T comparable](set map[T]bool) func(rows, error) error {
	return func(rs rows, err error) error {
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var v T
			if err := rs.Scan(&v); err != nil {
				return err
			}
			set[v] = true
		}
		return rs.Err()
	}
}

const alertColumns = `seq, status, assignee, updated_at, state_since, body`

func scanAlert(r interface{ Scan(...any) error }) (*alert.Alert, int64, error) {
	var (
		seq                   int64
		status, assignee      string
		updatedAt, stateSince int64
		body                  string
	)
	if err := r.Scan(&seq, &status, &assignee, &updatedAt, &stateSince, &body); err != nil {
		return nil, 0, err
	}
	a, err := decodeAlert(status, assignee, updatedAt, stateSince, body)
	return a, seq, err
}

// decodeAlert makes an alert of its stored body and state columns.
func decodeAlert(status, assignee string, updatedAt, stateSince int64, body string) (*alert.Alert, error) {
	var a alert.Alert
	if err := json.Unmarshal([]byte(body), (*alertBody)(&a)); err != nil {
		return nil, fmt.Errorf("decode stored alert: %w", err)
	}
	a.Status, a.Assignee, a.UpdatedAt, a.StateSince = alert.Status(status), assignee, fromMicros(updatedAt), fromMicros(stateSince)
	return &a, nil
}

func (t *tx) GetAlert(ctx context.Context, alertID string) (*alert.Alert, error) {
	a, _, err := scanAlert(t.q.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE alert_id = ?`, alertID))
	if err != nil {
		return nil, fmt.Errorf("get alert %s: %w", alertID, err)
	}
	return a, nil
}

func (t *tx) LockAlert(ctx context.Context, alertID string) (*alert.Alert, error) {
	a, _, err := scanAlert(t.q.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE alert_id = ?`+t.forUpdate, alertID))
	if err != nil {
		return nil, fmt.Errorf("lock alert %s: %w", alertID, err)
	}
	return a, nil
}

func (t *tx) UpdateAlertState(ctx context.Context, a *alert.Alert) error {
	n, err := t.q.exec(ctx, `UPDATE alerts SET status = ?, assignee = ?, updated_at = ?, state_since = ? WHERE alert_id = ?`,
		string(a.Status), a.Assignee, micros(a.UpdatedAt), micros(a.StateSince), a.AlertID)
	if err != nil {
		return fmt.Errorf("update alert %s: %w", a.AlertID, err)
	}
	if n == 0 {
		return fmt.Errorf("update alert %s: %w", a.AlertID, ErrNotFound)
	}
	return nil
}

// The list cursor is the last row's sequence number, opaque to clients.
func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

// DecodeCursor checks a list cursor; the API uses it to answer 400 on a bad one.
func DecodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, fmt.Errorf("malformed cursor")
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq <= 0 {
		return 0, fmt.Errorf("malformed cursor")
	}
	return seq, nil
}

func (t *tx) ListAlerts(ctx context.Context, lq ListQuery) ([]*alert.Alert, string, error) {
	where, args := t.listFilter(lq)
	if lq.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(lq.Status))
	}
	if lq.Cursor != "" {
		seq, err := DecodeCursor(lq.Cursor)
		if err != nil {
			return nil, "", err
		}
		where, args = append(where, "seq < ?"), append(args, seq)
	}
	limit := lq.Limit
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	// One row more than asked tells whether there is a next page.
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1)

	rs, err := t.q.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	defer rs.Close()
	var (
		out  []*alert.Alert
		seqs []int64
	)
	for rs.Next() {
		a, seq, err := scanAlert(rs)
		if err != nil {
			return nil, "", fmt.Errorf("list alerts: %w", err)
		}
		out, seqs = append(out, a), append(seqs, seq)
	}
	if err := rs.Err(); err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(seqs[limit-1])
	}
	return out, next, nil
}

func (t *tx) AddEvent(ctx context.Context, alertID string, e alert.Event) error {
	return t.AddEvents(ctx, alertID, e)
}

// eventInserts holds the statement text for inserting one to four events,
// so the common cases are one cached statement each.
var eventInserts = func() (qs [4]string) {
	q := `INSERT INTO alert_events (alert_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)`
	for i := range qs {
		qs[i] = q
		q += `, (?, ?, ?, ?, ?)`
	}
	return qs
}()

func (t *tx) AddEvents(ctx context.Context, alertID string, es ...alert.Event) error {
	for len(es) > 0 {
		n := min(len(es), len(eventInserts))
		args := make([]any, 0, 5*n)
		for _, e := range es[:n] {
			args = append(args, alertID, micros(e.At), e.Actor, e.Action, e.Detail)
		}
		if err := execLater(ctx, t.q, eventInserts[n-1], args...); err != nil {
			return fmt.Errorf("add %s event to alert %s: %w", es[0].Action, alertID, err)
		}
		es = es[n:]
	}
	return nil
}

func (t *tx) ListEvents(ctx context.Context, alertID string) ([]alert.Event, error) {
	rs, err := t.q.query(ctx, `SELECT at, actor, action, detail FROM alert_events WHERE alert_id = ? ORDER BY id`, alertID)
	if err != nil {
		return nil, fmt.Errorf("list events of alert %s: %w", alertID, err)
	}
	defer rs.Close()
	out := []alert.Event{}
	for rs.Next() {
		var (
			e  alert.Event
			at int64
		)
		if err := rs.Scan(&at, &e.Actor, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("list events of alert %s: %w", alertID, err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rs.Err()
}

func (t *tx) AddComment(ctx context.Context, c *alert.Comment) error {
	err := t.q.queryRow(ctx, `INSERT INTO comments (alert_id, author, body, origin, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		c.AlertID, c.Author, c.Body, c.Origin, micros(c.CreatedAt), micros(c.UpdatedAt)).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("add comment to alert %s: %w", c.AlertID, err)
	}
	return nil
}

func (t *tx) ListComments(ctx context.Context, alertID string) ([]alert.Comment, error) {
	rs, err := t.q.query(ctx, `SELECT id, author, body, origin, created_at, updated_at
		FROM comments WHERE alert_id = ? ORDER BY id`, alertID)
	if err != nil {
		return nil, fmt.Errorf("list comments of alert %s: %w", alertID, err)
	}
	defer rs.Close()
	out := []alert.Comment{}
	for rs.Next() {
		c := alert.Comment{AlertID: alertID}
		var created, updated int64
		if err := rs.Scan(&c.ID, &c.Author, &c.Body, &c.Origin, &created, &updated); err != nil {
			return nil, fmt.Errorf("list comments of alert %s: %w", alertID, err)
		}
		c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, c)
	}
	return out, rs.Err()
}

func (t *tx) InsertDelivery(ctx context.Context, d *Delivery) error {
	err := t.q.queryRow(ctx, `INSERT INTO deliveries (alert_id, destination, reason, state, attempts, last_error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		d.AlertID, d.Destination, d.Reason, string(d.State), d.Attempts, d.LastError,
		micros(d.CreatedAt), micros(d.UpdatedAt)).Scan(&d.ID)
	if err != nil {
		return fmt.Errorf("add delivery of alert %s to %s: %w", d.AlertID, d.Destination, err)
	}
	return nil
}

// insertDeliveriesPG inserts many deliveries in one statement. Their ids
// come from the identity sequence as the rows go in, in the order of the
// arrays, so sorted they are the rows' ids in that order (RETURNING's own
// order is not promised).
const insertDeliveriesPG = `INSERT INTO deliveries (alert_id, destination, reason, state, attempts, last_error, created_at, updated_at)
	SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::bigint[], ?::bigint[])
	RETURNING id`

func (t *tx) InsertDeliveries(ctx context.Context, ds []*Delivery) error {
	if !t.postgres || len(ds) == 1 {
		for _, d := range ds {
			if err := t.InsertDelivery(ctx, d); err != nil {
				return err
			}
		}
		return nil
	}
	if len(ds) == 0 {
		return nil
	}
	var (
		alerts, dests, reasons, states, lastErrs = make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)),
			make([]string, len(ds)), make([]string, len(ds))
		attempts, created, updated = make([]int64, len(ds)), make([]int64, len(ds)), make([]int64, len(ds))
	)
	for i, d := range ds {
		alerts[i], dests[i], reasons[i], states[i], lastErrs[i] = d.AlertID, d.Destination, d.Reason, string(d.State), d.LastError
		attempts[i], created[i], updated[i] = int64(d.Attempts), micros(d.CreatedAt), micros(d.UpdatedAt)
	}
	rs, err := t.q.query(ctx, insertDeliveriesPG, alerts, dests, reasons, states, attempts, lastErrs, created, updated)
	if err != nil {
		return fmt.Errorf("add %d deliveries: %w", len(ds), err)
	}
	defer rs.Close()
	ids := make([]int64, 0, len(ds))
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return fmt.Errorf("add %d deliveries: %w", len(ds), err)
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("add %d deliveries: %w", len(ds), err)
	}
	if len(ids) != len(ds) {
		return fmt.Errorf("add %d deliveries: %d ids returned", len(ds), len(ids))
	}
	slices.Sort(ids)
	for i, d := range ds {
		d.ID = ids[i]
	}
	return nil
}

const deliveryColumns = `id, alert_id, destination, reason, state, attempts, last_error, created_at, updated_at, sending_since`

func scanDelivery(r interface{ Scan(...any) error }) (Delivery, error) {
	var (
		d                Delivery
		state            string
		created, updated int64
		sending          int64
	)
	err := r.Scan(&d.ID, &d.AlertID, &d.Destination, &d.Reason, &state, &d.Attempts, &d.LastError, &created, &updated, &sending)
	d.State, d.CreatedAt, d.UpdatedAt = DeliveryState(state), fromMicros(created), fromMicros(updated)
	d.SendingSince = fromMicros(sending)
	return d, err
}

func (t *tx) GetDelivery(ctx context.Context, id int64) (*Delivery, error) {
	d, err := scanDelivery(t.q.queryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get delivery %d: %w", id, err)
	}
	return &d, nil
}

// deliveryWorkSelect reads deliveries with their alerts and the issues
// linked to them in the deliveries' destinations.
const deliveryWorkSelect = `SELECT d.id, d.alert_id, d.destination, d.reason, d.state, d.attempts, d.last_error,
		d.created_at, d.updated_at, d.sending_since,
		a.status, a.assignee, a.updated_at, a.state_since, a.body,
		CASE WHEN i.alert_id IS NULL THEN 0 ELSE 1 END, COALESCE(i.key, ''), COALESCE(i.external_id, ''),
		COALESCE(i.url, ''), COALESCE(i.status, '')
	FROM deliveries d
	JOIN alerts a ON a.alert_id = d.alert_id
	LEFT JOIN issues i ON i.alert_id = d.alert_id AND i.destination = d.destination`

func scanDeliveryWork(r interface{ Scan(...any) error }) (*DeliveryWork, error) {
	var (
		w                         DeliveryWork
		d                         = &w.Delivery
		state                     string
		created, updated, sending int64
		alertUpdated, stateSince  int64
		status, assignee, body    string
		linked                    int
		is                        alert.Issue
	)
	err := r.Scan(&d.ID, &d.AlertID, &d.Destination, &d.Reason, &state, &d.Attempts,
		&d.LastError, &created, &updated, &sending, &status, &assignee, &alertUpdated, &stateSince, &body,
		&linked, &is.Key, &is.ID, &is.URL, &is.Status)
	if err != nil {
		return nil, err
	}
	d.State, d.CreatedAt, d.UpdatedAt, d.SendingSince = DeliveryState(state), fromMicros(created), fromMicros(updated), fromMicros(sending)
	if w.Alert, err = decodeAlert(status, assignee, alertUpdated, stateSince, body); err != nil {
		return nil, err
	}
	if linked == 1 {
		is.Destination = d.Destination
		w.Issue = &is
	}
	return &w, nil
}

func (t *tx) GetDeliveryWork(ctx context.Context, id int64) (*DeliveryWork, error) {
	w, err := scanDeliveryWork(t.q.queryRow(ctx, deliveryWorkSelect+` WHERE d.id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("get delivery %d: %w", id, err)
	}
	return w, nil
}

func (t *tx) GetDeliveryWorks(ctx context.Context, ids []int64) (map[int64]*DeliveryWork, error) {
	out := make(map[int64]*DeliveryWork, len(ids))
	if !t.postgres || len(ids) == 1 {
		for _, id := range ids {
			w, err := t.GetDeliveryWork(ctx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[id] = w
		}
		return out, nil
	}
	rs, err := t.q.query(ctx, deliveryWorkSelect+` WHERE d.id = ANY(?::bigint[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("get %d deliveries: %w", len(ids), err)
	}
	defer rs.Close()
	for rs.Next() {
		w, err := scanDeliveryWork(rs)
		if err != nil {
			return nil, fmt.Errorf("get %d deliveries: %w", len(ids), err)
		}
		out[w.Delivery.ID] = w
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("get %d deliveries: %w", len(ids), err)
	}
	return out, nil
}

// claimDeliveriesPG claims attempts of many deliveries in one statement
// (see ClaimDelivery) and names those it claimed.
const claimDeliveriesPG = `UPDATE deliveries AS d SET attempts = d.attempts + 1, sending_since = c.at, updated_at = c.at
	FROM unnest(?::bigint[], ?::bigint[], ?::bigint[]) AS c(id, attempts, at)
	WHERE d.id = c.id AND d.attempts = c.attempts AND d.state IN ('pending', 'retrying')
	RETURNING d.id`

func (t *tx) ClaimDeliveries(ctx context.Context, ds []*Delivery, at []time.Time) ([]bool, error) {
	out := make([]bool, len(ds))
	if len(at) != len(ds) {
		return nil, fmt.Errorf("claim %d deliveries: %d start times", len(ds), len(at))
	}
	// A delivery named twice is claimed once per mention, in order, as
	// one statement cannot (the second claim must see the first).
	n := map[int64]int{}
	for _, d := range ds {
		n[d.ID]++
	}
	var ids, attempts, ats []int64
	for i, d := range ds {
		if !t.postgres || n[d.ID] > 1 || len(ds) == 1 {
			continue
		}
		ids, attempts, ats = append(ids, d.ID), append(attempts, int64(d.Attempts)), append(ats, micros(at[i]))
	}
	claimed := map[int64]bool{}
	if len(ids) > 0 {
		if err := into(claimed)(t.q.query(ctx, claimDeliveriesPG, ids, attempts, ats)); err != nil {
			return nil, fmt.Errorf("claim attempts of %d deliveries: %w", len(ids), err)
		}
	}
	for i, d := range ds {
		if !t.postgres || n[d.ID] > 1 || len(ds) == 1 {
			var err error
			if out[i], err = t.ClaimDelivery(ctx, d, at[i]); err != nil {
				return nil, err
			}
			continue
		}
		if claimed[d.ID] {
			out[i] = true
			d.Attempts++
			d.SendingSince, d.UpdatedAt = at[i].UTC(), at[i].UTC()
		}
	}
	return out, nil
}

func (t *tx) UpdateDelivery(ctx context.Context, d *Delivery) error {
	err := execLater(ctx, t.q, `UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, updated_at = ?, sending_since = ? WHERE id = ?`,
		string(d.State), d.Attempts, d.LastError, micros(d.UpdatedAt), micros(d.SendingSince), d.ID)
	if err != nil {
		return fmt.Errorf("update delivery %d: %w", d.ID, err)
	}
	return nil
}

func (t *tx) ListDeliveries(ctx context.Context, alertID string) ([]Delivery, error) {
	rs, err := t.q.query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE alert_id = ? ORDER BY id`, alertID)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of alert %s: %w", alertID, err)
	}
	defer rs.Close()
	out := []Delivery{}
	for rs.Next() {
		d, err := scanDelivery(rs)
		if err != nil {
			return nil, fmt.Errorf("list deliveries of alert %s: %w", alertID, err)
		}
		out = append(out, d)
	}
	return out, rs.Err()
}

func (t *tx) CountDeliveries(ctx context.Context) (map[DeliveryState]int, error) {
	rs, err := t.q.query(ctx, `SELECT state, COUNT(*) FROM deliveries WHERE state IN ('pending', 'retrying') GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rs.Close()
	out := map[DeliveryState]int{DeliveryPending: 0, DeliveryRetrying: 0}
	for rs.Next() {
		var (
			state string
			n     int
		)
		if err := rs.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count deliveries: %w", err)
		}
		out[DeliveryState(state)] = n
	}
	return out, rs.Err()
}

func (t *tx) UpsertIssue(ctx context.Context, alertID string, is alert.Issue) error {
	_, err := t.q.exec(ctx, `INSERT INTO issues (alert_id, destination, key, external_id, url, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (alert_id, destination) DO UPDATE SET key = excluded.key, external_id = excluded.external_id,
			url = excluded.url, status = excluded.status`,
		alertID, is.Destination, is.Key, is.ID, is.URL, is.Status, micros(time.Now()))
	if err != nil {
		return fmt.Errorf("link alert %s to issue %s: %w", alertID, is.Key, err)
	}
	return nil
}

func (t *tx) GetIssue(ctx context.Context, alertID, destination string) (*alert.Issue, error) {
	is := alert.Issue{Destination: destination}
	err := t.q.queryRow(ctx, `SELECT key, external_id, url, status FROM issues WHERE alert_id = ? AND destination = ?`,
		alertID, destination).Scan(&is.Key, &is.ID, &is.URL, &is.Status)
	if err != nil {
		return nil, fmt.Errorf("get issue of alert %s in %s: %w", alertID, destination, err)
	}
	return &is, nil
}

func (t *tx) ListIssues(ctx context.Context, alertID string) ([]alert.Issue, error) {
	rs, err := t.q.query(ctx, `SELECT destination, key, external_id, url, status FROM issues WHERE alert_id = ? ORDER BY destination`, alertID)
	if err != nil {
		return nil, fmt.Errorf("list issues of alert %s: %w", alertID, err)
	}
	defer rs.Close()
	out := []alert.Issue{}
	for rs.Next() {
		var is alert.Issue
		if err := rs.Scan(&is.Destination, &is.Key, &is.ID, &is.URL, &is.Status); err != nil {
			return nil, fmt.Errorf("list issues of alert %s: %w", alertID, err)
		}
		out = append(out, is)
	}
	return out, rs.Err()
}

func (t *tx) RecordDestinationResult(ctx context.Context, name string, at time.Time, deliveryErr string) error {
	// Never backwards: replicas flush what they saw in any order.
	var err error
	if deliveryErr == "" {
		_, err = t.q.exec(ctx, `INSERT INTO destination_health (name, last_success_at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET last_success_at = excluded.last_success_at
			WHERE excluded.last_success_at > destination_health.last_success_at`, name, micros(at))
	} else {
		_, err = t.q.exec(ctx, `INSERT INTO destination_health (name, last_error_at, last_error) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET last_error_at = excluded.last_error_at, last_error = excluded.last_error
			WHERE excluded.last_error_at > destination_health.last_error_at`,
			name, micros(at), deliveryErr)
	}
	if err != nil {
		return fmt.Errorf("record health of %s: %w", name, err)
	}
	return nil
}

func (t *tx) DestinationHealth(ctx context.Context) (map[string]Health, error) {
	rs, err := t.q.query(ctx, `SELECT name, last_success_at, last_error_at, last_error FROM destination_health`)
	if err != nil {
		return nil, fmt.Errorf("read destination health: %w", err)
	}
	defer rs.Close()
	out := map[string]Health{}
	for rs.Next() {
		var (
			name        string
			succ, errAt int64
			h           Health
		)
		if err := rs.Scan(&name, &succ, &errAt, &h.LastError); err != nil {
			return nil, fmt.Errorf("read destination health: %w", err)
		}
		h.LastSuccess, h.LastErrorAt = fromMicros(succ), fromMicros(errAt)
		out[name] = h
	}
	return out, rs.Err()
}

func (t *tx) GetCheckpoint(ctx context.Context, name string) (string, error) {
	var v string
	if err := t.q.queryRow(ctx, `SELECT value FROM checkpoints WHERE name = ?`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("get checkpoint %s: %w", name, err)
	}
	return v, nil
}

func (t *tx) PutCheckpoint(ctx context.Context, name, value string, at time.Time) error {
	_, err := t.q.exec(ctx, `INSERT INTO checkpoints (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, micros(at))
	if err != nil {
		return fmt.Errorf("put checkpoint %s: %w", name, err)
	}
	return nil
}
