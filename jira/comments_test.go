package jira_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

type marker struct {
	AlertComment int    `json:"alertComment"`
	Destination  string `json:"destination"`
}

func newIssue(t *testing.T, c *jira.Client) string {
	t.Helper()
	ref, err := c.CreateIssue(context.Background(), map[string]any{
		"project": map[string]any{"key": "SEC"}, "issuetype": map[string]any{"name": "Task"}, "summary": "s",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ref.Key
}

func TestCommentWithProperty(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, c := start(t, d, nil)
			ctx := context.Background()
			key := newIssue(t, c)
			plain, err := c.AddComment(ctx, key, description(d, "a person's comment"))
			if err != nil {
				t.Fatal(err)
			}
			want := marker{AlertComment: 7, Destination: "sec-jira"}
			cm, err := c.AddCommentWithProperty(ctx, key, description(d, "[bob] commented on alertbridge"), "alertbridge", want)
			if err != nil || cm.ID == "" {
				t.Fatalf("AddCommentWithProperty = %+v, %v", cm, err)
			}

			got, err := c.Comments(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].ID != plain.ID || got[1].ID != cm.ID {
				t.Fatalf("Comments = %+v", got)
			}
			if ok, err := got[0].Property("alertbridge", new(marker)); ok || err != nil {
				t.Errorf("the plain comment has the property: %v, %v", ok, err)
			}
			var m marker
			if ok, err := got[1].Property("alertbridge", &m); !ok || err != nil || m != want {
				t.Errorf("Property = %+v, %v, %v; want %+v", m, ok, err, want)
			}
			if got[1].Created == "" || len(got[1].Body) == 0 || got[1].Author.DisplayName != sandbox.DefaultUser.DisplayName {
				t.Errorf("comment fields: %+v", got[1])
			}

			stored := sb.Comments(key)
			if len(stored) != 2 || len(stored[0].Properties) != 0 {
				t.Fatalf("stored = %+v", stored)
			}
			if s := string(stored[1].Properties["alertbridge"]); s != `{"alertComment":7,"destination":"sec-jira"}` {
				t.Errorf("stored property %s", s)
			}
		})
	}
}

// A value Data Center would refuse, or Jira's limits would, fails before
// anything is sent, on both deployments alike.
func TestCommentPropertyRefusedLocally(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, c := start(t, d, nil)
			ctx := context.Background()
			key := newIssue(t, c)
			before := len(sb.Requests())
			for name, tc := range map[string]struct {
				key   string
				value any
			}{
				"string":    {"alertbridge", "alertbridge-1"},
				"number":    {"alertbridge", 7},
				"array":     {"alertbridge", []int{7}},
				"null":      {"alertbridge", nil},
				"empty key": {"", map[string]int{"a": 1}},
				"long key":  {strings.Repeat("k", 256), map[string]int{"a": 1}},
				"too big":   {"alertbridge", map[string]string{"a": strings.Repeat("x", 32768)}},
				"no JSON":   {"alertbridge", func() {}},
			} {
				if _, err := c.AddCommentWithProperty(ctx, key, description(d, "x"), tc.key, tc.value); err == nil {
					t.Errorf("%s: no error", name)
				}
			}
			if n := len(sb.Requests()) - before; n != 0 {
				t.Errorf("%d requests sent for refused properties", n)
			}
		})
	}
}

// Comments reads every page, Jira giving at most 100 a page whatever is
// asked.
func TestCommentsPages(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, c := start(t, d, nil)
			ctx := context.Background()
			key := newIssue(t, c)
			if got, err := c.Comments(ctx, key); err != nil || len(got) != 0 {
				t.Fatalf("no comments yet: %+v, %v", got, err)
			}
			const n = 230
			var ids []string
			for i := range n {
				var cm *jira.Comment
				var err error
				if i%3 == 0 {
					cm, err = c.AddCommentWithProperty(ctx, key, description(d, fmt.Sprint("comment ", i)), "alertbridge", marker{AlertComment: i})
				} else {
					cm, err = c.AddComment(ctx, key, description(d, fmt.Sprint("comment ", i)))
				}
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, cm.ID)
			}
			from := len(sb.Requests())
			got, err := c.Comments(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("%d comments, want %d", len(got), n)
			}
			for i, cm := range got {
				var m marker
				ok, err := cm.Property("alertbridge", &m)
				if cm.ID != ids[i] || err != nil || ok != (i%3 == 0) || (ok && m.AlertComment != i) {
					t.Fatalf("comment %d: %+v (property %v %v %+v)", i, cm, ok, err, m)
				}
			}
			var starts []string
			for _, r := range sb.Requests()[from:] {
				q, _ := url.ParseQuery(r.Query)
				starts = append(starts, q.Get("startAt"))
			}
			if strings.Join(starts, ",") != "0,100,200" {
				t.Errorf("pages started at %v, want 0,100,200", starts)
			}
		})
	}
}

// The case the comment property is for: Jira stores the comment but the
// answer is a 502 or never comes. The marker is found, so the comment is not
// posted again.
func TestCommentStoredButUnanswered(t *testing.T) {
	for _, d := range deployments {
		for _, kind := range []sandbox.FaultKind{sandbox.FaultStoredServerError, sandbox.FaultLostAnswer} {
			t.Run(fmt.Sprintf("%s/%s", d, kind), func(t *testing.T) {
				sb, c := start(t, d, nil)
				ctx := context.Background()
				key := newIssue(t, c)
				prefix := "/rest/api/3/issue/" + key + "/comment"
				if d == jira.DeploymentDataCenter {
					prefix = "/rest/api/2/issue/" + key + "/comment"
				}
				sb.Fail(sandbox.FaultSpec{Kind: kind, Method: "POST", PathPrefix: prefix, Count: 1})
				quick := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token, Timeout: 200 * time.Millisecond})
				want := marker{AlertComment: 42, Destination: "sec-jira"}
				_, err := quick.AddCommentWithProperty(ctx, key, description(d, "posted once"), "alertbridge", want)
				switch kind {
				case sandbox.FaultStoredServerError:
					if e := asError(t, err); e.Status != 502 || !e.Temporary() {
						t.Fatalf("want a temporary 502, got %v", e)
					}
				case sandbox.FaultLostAnswer:
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						t.Fatalf("want a timeout, got %v", err)
					}
				}

				// What a retry does first: look for the marker.
				got, err := c.Comments(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				found := 0
				for _, cm := range got {
					var m marker
					if ok, err := cm.Property("alertbridge", &m); err != nil {
						t.Fatal(err)
					} else if ok && m == want {
						found++
					}
				}
				if found != 1 {
					t.Fatalf("the marker is on %d comments, want 1: %+v", found, got)
				}
				if n := len(sb.Comments(key)); n != 1 {
					t.Errorf("%d comments stored, want 1", n)
				}
			})
		}
	}
}

// A Data Center that sends a property value as its spec types it, a string
// holding the JSON, reads the same as one that sends the JSON itself.
func TestPropertyInsideString(t *testing.T) {
	var cm jira.CommentWithProperties
	body := `{"id":"10000","created":"2024-01-02T03:04:05.000+0000","properties":[` +
		`{"key":"raw","value":{"alertComment":1}},` +
		`{"key":"quoted","value":"{\"alertComment\":2}"},` +
		`{"key":"text","value":"plain"}]}`
	if err := json.Unmarshal([]byte(body), &cm); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"raw": 1, "quoted": 2} {
		var m marker
		if ok, err := cm.Property(key, &m); !ok || err != nil || m.AlertComment != want {
			t.Errorf("%s: %+v %v %v", key, m, ok, err)
		}
	}
	var s string
	if ok, err := cm.Property("text", &s); !ok || err != nil || s != "plain" {
		t.Errorf("text: %q %v %v", s, ok, err)
	}
	if ok, err := cm.Property("text", new(marker)); ok || err == nil {
		t.Errorf("a string decoded into a struct: %v %v", ok, err)
	}
	if ok, err := cm.Property("missing", new(marker)); ok || err != nil {
		t.Errorf("missing: %v %v", ok, err)
	}
}
