package jirasync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/wiki"
	"github.com/alertbridge/alertbridge/store"
)

// errFinal marks an error no retry can fix.
var errFinal = errors.New("final")

type finalError struct{ msg string }

func (e finalError) Error() string        { return e.msg }
func (e finalError) Is(target error) bool { return target == errFinal }
func (e finalError) Permanent() bool      { return true }

// statusCategory is the Jira status category an alert status belongs in,
// used to steer a multi-hop path when no transition reaches the target.
func statusCategory(s alert.Status) string {
	switch s {
	case alert.StatusOpen:
		return "new"
	case alert.StatusTriaged:
		return "indeterminate"
	default:
		return "done"
	}
}

var categoryRank = map[string]int{"new": 0, "indeterminate": 1, "done": 2}

func matches(target string, st jira.Status) bool {
	return st.ID == target || strings.EqualFold(st.Name, target)
}

// transition moves an issue to the status named target (id or name).
//
// Jira's REST API shows only the transitions open from the issue's current
// status (the workflow graph needs admin rights), so a path to a status
// that is not one step away can only be explored by moving the issue. Each
// hop takes a transition to a status not yet visited, preferring one in the
// target's category and then one whose category is closest to it (a new →
// in progress → done workflow is walked in order), and looks again from
// there, up to MaxHops. When no unvisited status is left, or the hops run
// out, there is no path: the error says where the issue was left.
//
// It returns what it did and the status the issue is now in.
func (s *Syncer) transition(ctx context.Context, d *Destination, key, target, category string) (string, string, error) {
	iss, err := d.Client.GetIssue(ctx, key, "status")
	if err != nil {
		return "", "", err
	}
	var cur jira.Status
	if _, err := iss.Field("status", &cur); err != nil {
		return "", "", err
	}
	if matches(target, cur) {
		return fmt.Sprintf("already %s", cur.Name), cur.Name, nil // settled: no request
	}
	start := cur.Name
	visited := map[string]bool{cur.ID + "\x00" + strings.ToLower(cur.Name): true}
	var path []string
	// One status change, however many hops it took; counted too when it
	// stopped part-way, since the issue did move.
	defer func() {
		if len(path) > 0 {
			s.opts.Metrics.sent(d.Name, fieldStatus)
		}
	}()
	for hop := 0; hop < s.opts.MaxHops; hop++ {
		ts, err := d.Client.Transitions(ctx, key)
		if err != nil {
			return "", "", err
		}
		var next *jira.Transition
		for i := range ts {
			if matches(target, ts[i].To) {
				next = &ts[i]
				break
			}
		}
		final := next != nil
		if next == nil {
			best := -1
			for i := range ts {
				if visited[ts[i].To.ID+"\x00"+strings.ToLower(ts[i].To.Name)] {
					continue
				}
				score := 10 - abs(categoryRank[ts[i].To.Category]-categoryRank[category])
				if score > best {
					best, next = score, &ts[i]
				}
			}
		}
		if next == nil {
			break
		}
		if err := d.Client.DoTransition(ctx, key, next.ID); err != nil {
			return "", "", err
		}
		path = append(path, fmt.Sprintf("%s (%s)", next.To.Name, next.Name))
		visited[next.To.ID+"\x00"+strings.ToLower(next.To.Name)] = true
		if final {
			return fmt.Sprintf("transitioned %s → %s", start, strings.Join(path, " → ")), next.To.Name, nil
		}
	}
	where := start
	if len(path) > 0 {
		where = strings.Join(path, " → ") + ", where it was left"
	}
	return "", "", finalError{fmt.Sprintf("no workflow path from %s to status %q within %d transitions (tried %s)", start, target, s.opts.MaxHops, where)}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// body converts Markdown to the deployment's comment body: ADF on Cloud,
// wiki markup on Data Center.
func (s *Syncer) body(ctx context.Context, d *Destination, md string) (any, error) {
	dep, err := d.Client.Deployment(ctx)
	if err != nil {
		return nil, err
	}
	if dep == jira.DeploymentCloud {
		return adf.FromMarkdown(md), nil
	}
	return wiki.FromMarkdown(md), nil
}

// user finds the Jira user with an e-mail through the jira_users cache.
func (s *Syncer) user(ctx context.Context, d *Destination, email string) (*jira.User, error) {
	now := s.opts.Now().UTC()
	var cached *store.JiraUser
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		cached, err = tx.GetJiraUser(ctx, d.Name, strings.ToLower(email))
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if cached != nil {
		ttl := s.opts.UserTTL
		if cached.AccountID == "" {
			ttl /= 10
		}
		if now.Sub(cached.FoundAt) < ttl {
			if cached.AccountID == "" {
				return nil, nil
			}
			return &jira.User{AccountID: cached.AccountID, Name: cached.Name, EmailAddress: email}, nil
		}
	}
	u, err := d.Client.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	entry := store.JiraUser{Destination: d.Name, Email: strings.ToLower(email), FoundAt: now}
	if u != nil {
		entry.AccountID, entry.Name = u.AccountID, u.Name
		if entry.AccountID == "" {
			// Data Center identifies users by name; keep it in both columns
			// so an empty account id still means "not found".
			entry.AccountID = u.Name
		}
	}
	if err := s.st.InTx(ctx, func(tx store.Tx) error { return tx.PutJiraUser(ctx, entry) }); err != nil {
		return nil, err
	}
	return u, nil
}
