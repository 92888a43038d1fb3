package jirasync

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/lifecycle"
)

func TestGroupNote(t *testing.T) {
	m := func(i int) lifecycle.GroupMember {
		return lifecycle.GroupMember{AlertID: fmt.Sprint("a", i), Title: fmt.Sprintf("db-%d is *down*", i),
			Link: "http://prometheus.example/graph", Labels: map[string]string{"instance": fmt.Sprint("db-", i), "az": "b"}}
	}
	many := make([]lifecycle.GroupMember, 25)
	for i := range many {
		many[i] = m(i)
	}
	for _, tc := range []struct {
		name        string
		change      lifecycle.GroupChange
		say, notSay []string
	}{
		{"one joined", lifecycle.GroupChange{Sender: "Alertmanager", Joined: []lifecycle.GroupMember{m(3)}, Alerts: 3, Firing: 3},
			[]string{"**Alertmanager group: 1 alert joined.**", "3 of 3 alerts firing.", "Joined:", `db-3 is \*down\*`, "`az=b, instance=db-3`"},
			[]string{"Resolved:", "resolved:"}},
		{"joined and resolved", lifecycle.GroupChange{Sender: "Grafana", Joined: []lifecycle.GroupMember{m(4)}, Resolved: []lifecycle.GroupMember{m(1), m(2)}, Alerts: 4, Firing: 2},
			[]string{"Grafana group: 1 alert joined, 2 alerts resolved.", "2 of 4 alerts firing.", "Joined:", "Resolved:", "db-1", "db-2"},
			[]string{"Firing again:"}},
		{"last resolved", lifecycle.GroupChange{Sender: "Alertmanager", Resolved: []lifecycle.GroupMember{m(1)}, Alerts: 1, Firing: 0},
			[]string{"1 alert resolved.", "All 1 alert has resolved: the group is resolved."}, []string{"of 1"}},
		{"firing again", lifecycle.GroupChange{Sender: "Alertmanager", Back: []lifecycle.GroupMember{m(2)}, Alerts: 3, Firing: 1},
			[]string{"1 alert firing again.", "1 of 3 alerts firing.", "Firing again:"}, nil},
		{"a storm is cut", lifecycle.GroupChange{Sender: "Alertmanager", Joined: many, Alerts: 25, Firing: 25},
			[]string{"25 alerts joined.", "db-19", "and 5 more."}, []string{"db-20 "}},
		{"no link, no labels", lifecycle.GroupChange{Sender: "Alertmanager", Joined: []lifecycle.GroupMember{{AlertID: "x", Title: "plain"}}, Alerts: 1, Firing: 1},
			[]string{"- plain"}, []string{"`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := groupNote(&tc.change)
			for _, s := range tc.say {
				if !strings.Contains(md, s) {
					t.Errorf("the note does not say %q:\n%s", s, md)
				}
			}
			for _, s := range tc.notSay {
				if strings.Contains(md, s) {
					t.Errorf("the note says %q:\n%s", s, md)
				}
			}
			// What is posted is the Markdown read back: it must be the
			// document it was written from.
			if back := adf.ToMarkdown(adf.FromMarkdown(md)); back != md {
				t.Errorf("the note does not read back as written:\n%s\nread back:\n%s", md, back)
			}
		})
	}
}
