package jirasync

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/lifecycle"
)

// maxNoteMembers bounds the alerts a group's note names in each list; a
// storm of thousands joining is told by its count.
const maxNoteMembers = 20

// groupNote is the one comment a group's issue gets for what a
// notification changed: how many alerts joined, resolved or fired again,
// how many of the group fire now, and which alerts they were. It is
// Markdown written from a document, so that alert text shows as it is.
func groupNote(g *lifecycle.GroupChange) string {
	var counts []string
	for _, p := range []struct {
		n    int
		what string
	}{{len(g.Joined), "joined"}, {len(g.Resolved), "resolved"}, {len(g.Back), "firing again"}} {
		if p.n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s %s", p.n, plural(p.n, "alert", "alerts"), p.what))
		}
	}
	head := fmt.Sprintf("%s group: %s.", g.Sender, strings.Join(counts, ", "))
	state := fmt.Sprintf(" %d of %d %s firing.", g.Firing, g.Alerts, plural(g.Alerts, "alert", "alerts"))
	if g.Firing == 0 {
		state = fmt.Sprintf(" All %d %s resolved: the group is resolved.", g.Alerts, plural(g.Alerts, "alert has", "alerts have"))
	}
	blocks := []*adf.Node{adf.Paragraph(adf.Text(head, adf.Strong()), adf.Text(state))}
	for _, l := range []struct {
		title   string
		members []lifecycle.GroupMember
	}{{"Joined", g.Joined}, {"Resolved", g.Resolved}, {"Firing again", g.Back}} {
		if len(l.members) == 0 {
			continue
		}
		items := make([]*adf.Node, 0, min(len(l.members), maxNoteMembers))
		for _, m := range l.members[:min(len(l.members), maxNoteMembers)] {
			items = append(items, adf.ListItem(adf.Paragraph(memberText(m)...)))
		}
		blocks = append(blocks, adf.Paragraph(adf.Text(l.title+":")), adf.BulletList(items...))
		if more := len(l.members) - maxNoteMembers; more > 0 {
			blocks = append(blocks, adf.Paragraph(adf.Text(fmt.Sprintf("… and %d more.", more), adf.Em())))
		}
	}
	return adf.ToMarkdown(adf.Doc(blocks...))
}

// memberText names a member by its title, linked to its source, and the
// labels that set it apart in the group.
func memberText(m lifecycle.GroupMember) []*adf.Node {
	title := adf.Text(m.Title)
	if m.Link != "" {
		title = adf.Text(m.Title, adf.Link(m.Link))
	}
	out := []*adf.Node{title}
	if len(m.Labels) > 0 {
		pairs := make([]string, 0, len(m.Labels))
		for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
			pairs = append(pairs, k+"="+m.Labels[k])
		}
		out = append(out, adf.Text(" "), adf.Text(strings.Join(pairs, ", "), adf.Code()))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
