package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/ingest"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/store"
)

// Group is the Alertmanager or Grafana group a notification's alerts came
// in. For destinations with an issue per group, the group is one alert of
// its own (GroupAlertID) whose members are the group's alerts routed there:
// that alert gets the issue, and the members get none of their own there.
type Group struct {
	Key         string // groupKey
	Sender      string // "Alertmanager" or "Grafana"
	Source      alert.Source
	Receiver    string
	ExternalURL string
	// Labels are the group's labels (groupLabels); CommonLabels and
	// CommonAnnotations those every alert of this notification shares.
	Labels, CommonLabels, CommonAnnotations map[string]string
}

// GroupOf is the group of a notification; nil when the sender named none.
func GroupOf(n *ingest.Notification) *Group {
	if n.GroupKey == "" || len(n.Notices) == 0 {
		return nil
	}
	return &Group{Key: n.GroupKey, Sender: n.Sender, Source: n.Notices[0].Alert.Source, Receiver: n.Receiver,
		ExternalURL: n.ExternalURL, Labels: n.GroupLabels, CommonLabels: n.CommonLabels, CommonAnnotations: n.CommonAnnotations}
}

// GroupAlertID is the ID of the alert standing for a group. It depends on
// the sender and the groupKey only, so that the notifications of a pair of
// Alertmanagers in a cluster meet in one group.
func GroupAlertID(sender, key string) string {
	sum := sha256.Sum256([]byte(sender + "\x00" + key))
	return "group-" + hex.EncodeToString(sum[:12])
}

// MaxGroupListed bounds the members a group's alert lists in its context
// (and so its issue's description): a group may hold thousands.
const MaxGroupListed = 100

// GroupChange is what one notification changed in a group, for the one
// summarised note its issue gets.
type GroupChange struct {
	Sender string
	// Joined are new members; Resolved members that resolved; Back members
	// that fired again.
	Joined, Resolved, Back []GroupMember
	// Alerts and Firing count the group's members after the change.
	Alerts, Firing int
}

// GroupMember is one member as a group's note names it.
type GroupMember struct {
	AlertID, Title, Link string
	// Labels are the member's labels that the group's alerts do not all
	// share: what tells it from the others.
	Labels map[string]string
}

// Summary is the change in one line, for the group's timeline.
func (g *GroupChange) Summary() string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{len(g.Joined), "joined"}, {len(g.Resolved), "resolved"}, {len(g.Back), "fired again"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return fmt.Sprintf("%s; %d of %d firing", strings.Join(parts, ", "), g.Firing, g.Alerts)
}

// groupWork collects, over one notification's items, what they did to
// their group.
type groupWork struct {
	g     *Group
	actor string
	// dests are the issue-per-group destinations its new members routed to.
	dests                  []string
	joined, resolved, back []*alert.Alert
	// seen are stored alerts that came firing in this notification and
	// route to an issue per group there: members already, or, when an
	// alert is in several groups (Alertmanager routes with continue: true),
	// new to this one.
	//
	// Resolved repeats are seen too: when an alert is in several groups,
	// the first group's notification resolves it (or fires it again), and
	// the others' say what is already stored.
	seen []seenAlert
	// seenMembers are the seen alerts that were members already.
	seenMembers []seenAlert
}

type seenAlert struct {
	a      *alert.Alert
	firing bool
	dests  []string // its destinations with an issue per group
}

// seenInGroup notes a stored alert that came in its group's notification
// as a repeat: applyGroup makes it a member if it fires and is none yet,
// and follows what it did in another group first.
func (s *Service) seenInGroup(ws map[string]*groupWork, it Item) {
	if it.Group == nil {
		return
	}
	sa := seenAlert{a: it.Alert, firing: !it.Resolved}
	if sa.firing {
		if _, sa.dests = s.groupDestinations(route.Route(route.InputOf(it.Alert), s.routes()).Destinations); len(sa.dests) == 0 {
			return
		}
	}
	w := workOf(ws, it.Group, it.Actor)
	w.seen = append(w.seen, sa)
}

// movedElsewhere picks, of the members seen as repeats, those whose status
// differs from the one the group's alert lists for them: they resolved or
// fired again through another group's notification. Members beyond the
// listed ones (MaxGroupListed) are counted, not named.
func movedElsewhere(cur *alert.Alert, seen []seenAlert) (resolved, back []*alert.Alert) {
	var c struct {
		Alerts []struct {
			AlertID string       `json:"alertId"`
			Status  alert.Status `json:"status"`
		} `json:"alerts"`
	}
	_ = json.Unmarshal(cur.Context, &c) // a group alert without its listing names nobody
	listed := map[string]bool{}
	for _, m := range c.Alerts {
		listed[m.AlertID] = m.Status.Firing()
	}
	for _, sa := range seen {
		was, ok := listed[sa.a.AlertID]
		switch {
		case ok && was && !sa.firing:
			resolved = append(resolved, sa.a)
		case ok && !was && sa.firing:
			back = append(back, sa.a)
		}
	}
	return resolved, back
}

// groupedEvent is a member's timeline entry saying which group's issue it
// is on.
func groupedEvent(g *Group, dests []string, now time.Time) alert.Event {
	return alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionGrouped,
		Detail: fmt.Sprintf("on the issue of %s group %s (alert %s) in %s", g.Sender, g.Key,
			GroupAlertID(g.Sender, g.Key), strings.Join(dests, ", "))}
}

// joinSeen makes the firing seen alerts that are no members yet join the
// group, and keeps those that are members in seenMembers.
func (w *groupWork) joinSeen(ctx context.Context, tx store.Tx, id string, now time.Time) error {
	if len(w.seen) == 0 {
		return nil
	}
	cand := make([]string, len(w.seen))
	for i, sa := range w.seen {
		cand[i] = sa.a.AlertID
	}
	in, err := tx.GroupMembersAmong(ctx, id, cand)
	if err != nil {
		return err
	}
	for _, a := range w.joined {
		in[a.AlertID] = true
	}
	for _, sa := range w.seen {
		if in[sa.a.AlertID] {
			if !slices.ContainsFunc(w.joined, func(a *alert.Alert) bool { return a.AlertID == sa.a.AlertID }) {
				w.seenMembers = append(w.seenMembers, sa)
			}
			continue
		}
		if !sa.firing {
			continue
		}
		in[sa.a.AlertID] = true
		w.joined = append(w.joined, sa.a)
		w.dests = appendNew(w.dests, sa.dests...)
		if err := tx.AddEvent(ctx, sa.a.AlertID, groupedEvent(w.g, sa.dests, now)); err != nil {
			return err
		}
	}
	return nil
}

// groupDestinations splits routed destinations into those that take the
// alert itself and those that take its group.
func (s *Service) groupDestinations(routed []string) (own, grouped []string) {
	for _, name := range routed {
		if d, ok := s.destination(name); ok && d.IssuePerGroup {
			grouped = append(grouped, name)
		} else {
			own = append(own, name)
		}
	}
	return own, grouped
}

func workOf(ws map[string]*groupWork, g *Group, actor string) *groupWork {
	id := GroupAlertID(g.Sender, g.Key)
	w := ws[id]
	if w == nil {
		w = &groupWork{g: g, actor: actor}
		ws[id] = w
	}
	return w
}

// applyGroups brings each group the items touched up to date, in a fixed
// order so that two transactions lock groups alike.
func (s *Service) applyGroups(ctx context.Context, tx store.Tx, ws map[string]*groupWork, acc *accepting) error {
	for _, id := range slices.Sorted(maps.Keys(ws)) {
		if err := s.applyGroup(ctx, tx, id, ws[id], acc); err != nil {
			return fmt.Errorf("group %s (%s): %w", id, ws[id].g.Key, err)
		}
	}
	return nil
}

// applyGroup records the group's new members, makes or routes the alert
// standing for it, and when members joined, resolved or fired again, says
// so in one change: the group resolves when its last member does and fires
// again with its first.
func (s *Service) applyGroup(ctx context.Context, tx store.Tx, id string, w *groupWork, acc *accepting) error {
	now, actor := s.now(), w.actor
	if err := w.joinSeen(ctx, tx, id, now); err != nil {
		return err
	}
	if len(w.joined) > 0 {
		if err := tx.AddGroupMembers(ctx, id, ids(w.joined)); err != nil {
			return err
		}
	}
	// Only members count: an alert of the group routed to no destination
	// with an issue per group is not one.
	if len(w.resolved)+len(w.back) > 0 {
		in, err := tx.GroupMembersAmong(ctx, id, ids(slices.Concat(w.resolved, w.back)))
		if err != nil {
			return err
		}
		member := func(a *alert.Alert) bool { return !in[a.AlertID] }
		w.resolved, w.back = slices.DeleteFunc(w.resolved, member), slices.DeleteFunc(w.back, member)
	}
	cur, err := tx.LockAlert(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if len(w.joined) == 0 {
			return nil
		}
		return s.createGroup(ctx, tx, id, w, actor, now, acc)
	}
	if err != nil {
		return err
	}
	if err := s.routeGroup(ctx, tx, id, w.dests, now, acc); err != nil {
		return err
	}
	if len(w.joined)+len(w.resolved)+len(w.back)+len(w.seenMembers) == 0 {
		return nil
	}
	members, firing, err := tx.CountGroup(ctx, id)
	if err != nil {
		return err
	}
	if len(w.joined)+len(w.resolved)+len(w.back) == 0 {
		// Only repeats: news only if another group's notification moved
		// its members first.
		if cur.Group != nil && cur.Group.Alerts == members && cur.Group.Firing == firing {
			return nil
		}
		w.resolved, w.back = movedElsewhere(cur, w.seenMembers)
	}
	listed, err := tx.ListGroupMembers(ctx, id, MaxGroupListed)
	if err != nil {
		return err
	}
	describeGroup(cur, w.g, listed, members, firing, now)
	if err := tx.UpdateGroupAlert(ctx, cur); err != nil {
		return err
	}
	gc := &GroupChange{Sender: w.g.Sender, Alerts: members, Firing: firing,
		Joined: membersOf(w.joined, w.g), Resolved: membersOf(w.resolved, w.g), Back: membersOf(w.back, w.g)}
	c := Change{AlertID: id, Actor: actor, Group: gc}
	old := cur.Status
	switch {
	case firing == 0 && old.Firing():
		cur.Status = alert.StatusResolved
		c.OldStatus, c.NewStatus = old, alert.StatusResolved
	case firing > 0 && old == alert.StatusResolved:
		cur.Status = alert.StatusOpen
		c.OldStatus, c.NewStatus, c.Reopened = old, alert.StatusOpen, true
	}
	events := []alert.Event{{At: now, Actor: actor, Action: alert.ActionGroupChanged, Detail: gc.Summary()}}
	if c.NewStatus != "" {
		cur.UpdatedAt = now
		if err := tx.UpdateAlertState(ctx, cur); err != nil {
			return err
		}
		e := alert.Event{At: now, Actor: actor, Action: alert.ActionStatusChanged, Detail: fmt.Sprintf("%s → %s", old, c.NewStatus)}
		if c.Reopened {
			e = alert.Event{At: now, Actor: actor, Action: alert.ActionReopened, Detail: "an alert of the group is firing again"}
		}
		events = append(events, e)
	}
	if err := tx.AddEvents(ctx, id, events...); err != nil {
		return err
	}
	return acc.changed(ctx, tx, c)
}

// createGroup stores the alert standing for a group, with its first
// members, and queues its deliveries.
func (s *Service) createGroup(ctx context.Context, tx store.Tx, id string, w *groupWork, actor string, now time.Time, acc *accepting) error {
	listed, err := tx.ListGroupMembers(ctx, id, MaxGroupListed)
	if err != nil {
		return err
	}
	a := NewGroupAlert(w.g, listed, len(w.joined), len(w.joined), now)
	a.Severity = highest(w.joined) // of every member, listed or not
	if _, err := tx.InsertAlert(ctx, a); err != nil {
		return err
	}
	if err := tx.AddEvent(ctx, id, alert.Event{At: now, Actor: actor, Action: alert.ActionCreated,
		Detail: fmt.Sprintf("for %s group %s, with %d alerts", w.g.Sender, w.g.Key, len(w.joined))}); err != nil {
		return err
	}
	return s.routeGroup(ctx, tx, id, w.dests, now, acc)
}

// NewGroupAlert is the alert standing for group g, as it is first stored:
// listed are its members (firing first), members and firing its counts.
func NewGroupAlert(g *Group, listed []*alert.Alert, members, firing int, now time.Time) *alert.Alert {
	a := &alert.Alert{
		ID:      firstNonEmpty(g.Labels["alertname"], g.CommonLabels["alertname"], strings.ToLower(g.Sender)+".group"),
		AlertID: GroupAlertID(g.Sender, g.Key), CreatedAt: now, Severity: highest(listed), Type: alert.TypeRule,
		Link: g.ExternalURL, Title: groupTitle(g), Tags: []string{}, Source: g.Source, Status: alert.StatusOpen,
	}
	describeGroup(a, g, listed, members, firing, now)
	return a
}

// routeGroup queues a delivery of the group to each destination its
// members routed to that it has none for yet.
func (s *Service) routeGroup(ctx context.Context, tx store.Tx, id string, dests []string, now time.Time, acc *accepting) error {
	if len(dests) == 0 {
		return nil
	}
	have, err := tx.ListDeliveries(ctx, id)
	if err != nil {
		return err
	}
	var added []string
	for _, name := range dests {
		if slices.ContainsFunc(have, func(d store.Delivery) bool { return d.Destination == name }) ||
			slices.ContainsFunc(acc.deliveries, func(d *store.Delivery) bool { return d.AlertID == id && d.Destination == name }) {
			continue
		}
		acc.deliver(&store.Delivery{AlertID: id, Destination: name, Reason: store.ReasonRouted,
			State: store.DeliveryPending, CreatedAt: now, UpdatedAt: now})
		added = append(added, name)
	}
	if len(added) == 0 {
		return nil
	}
	return tx.AddEvent(ctx, id, alert.Event{At: now, Actor: "alertbridge", Action: alert.ActionRouted,
		Detail: "to " + strings.Join(added, ", ") + ": its alerts routed there, with an issue per group"})
}

// describeGroup writes the group's facts and its context: the group's
// labels, and its members listed (firing first) as the issue's description
// shows them.
func describeGroup(a *alert.Alert, g *Group, listed []*alert.Alert, members, firing int, now time.Time) {
	a.Group = &alert.Group{Key: g.Key, Sender: g.Sender, Receiver: g.Receiver, Alerts: members, Firing: firing}
	a.UpdatedAt = now
	list := make([]map[string]any, 0, len(listed))
	for _, m := range listed {
		var mc struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    string            `json:"startsAt"`
		}
		_ = json.Unmarshal(m.Context, &mc) // a member without them lists without them
		list = append(list, map[string]any{"alertId": m.AlertID, "title": m.Title, "severity": m.Severity, "status": m.Status,
			"labels": mc.Labels, "annotations": mc.Annotations, "startsAt": mc.StartsAt, "link": m.Link})
	}
	// Every value is a string, a map of strings or a number: it encodes.
	a.Context, _ = json.Marshal(map[string]any{
		"groupKey": g.Key, "sender": g.Sender, "receiver": g.Receiver, "externalURL": g.ExternalURL,
		"groupLabels": g.Labels, "labels": g.CommonLabels, "annotations": g.CommonAnnotations,
		"alertCount": members, "firingCount": firing, "alerts": list,
	})
}

// groupTitle names a group by its labels, the alert name first:
// "HighLatency (cluster=eu1, service=api)".
func groupTitle(g *Group) string {
	name := firstNonEmpty(g.Labels["alertname"], g.CommonLabels["alertname"])
	var rest []string
	for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
		if k != "alertname" {
			rest = append(rest, k+"="+g.Labels[k])
		}
	}
	switch {
	case name != "" && len(rest) > 0:
		return name + " (" + strings.Join(rest, ", ") + ")"
	case name != "":
		return name
	case len(rest) > 0:
		return strings.Join(rest, ", ")
	}
	return g.Sender + " group " + g.Key
}

// membersOf names alerts as a group's note does: each by what sets it
// apart from the group's common labels.
func membersOf(as []*alert.Alert, g *Group) []GroupMember {
	out := make([]GroupMember, 0, len(as))
	for _, a := range as {
		var mc struct {
			Labels map[string]string `json:"labels"`
		}
		_ = json.Unmarshal(a.Context, &mc)
		own := map[string]string{}
		for k, v := range mc.Labels {
			if c, ok := g.CommonLabels[k]; !ok || c != v {
				own[k] = v
			}
		}
		out = append(out, GroupMember{AlertID: a.AlertID, Title: a.Title, Link: a.Link, Labels: own})
	}
	return out
}

func highest(as []*alert.Alert) alert.Severity {
	var s alert.Severity
	for _, a := range as {
		if a.Severity.Rank() > s.Rank() {
			s = a.Severity
		}
	}
	if s == "" {
		return alert.SeverityInfo
	}
	return s
}

func ids(as []*alert.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.AlertID
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
