package config

import (
	"fmt"
	"net/url"
	"strings"
)

// checkSync finds what two-way sync cannot do safely across destinations.
// Problems refuse the configuration; warnings are printed by check-config.
//
// A destination names one project (jira.project is a single key), so "one
// two-way destination linked to several projects" cannot be written; what
// can is two two-way destinations on one Jira site with different projects:
// each would receive webhooks for issues the other's service account
// changes, under a JQL filter that is no longer the only thing deciding
// which issues are alertbridge's.
func (d *decoder) checkSync(items []item, dests []Destination) Problems {
	type twoWay struct {
		path, name, project, site string
	}
	var seen []twoWay
	var warnings Problems
	for i, dest := range dests {
		if dest.Type == TypeJira && dest.Jira != nil && dest.Jira.IssuePer == IssuePerGroup && dest.Jira.Sync.Status == SyncOff && i < len(items) {
			warnings = append(warnings, Problem{Path: join(items[i].path, "jira.sync.status"), Message: "issue_per: group with status sync off: a group's issue is told in a comment when alerts join or resolve, but it is not moved when the last alert resolves; set sync.status to one-way or two-way"})
		}
		if dest.Type != TypeJira || dest.Jira == nil || !dest.Jira.Sync.TwoWay() || i >= len(items) {
			continue
		}
		cur := twoWay{path: items[i].path, name: dest.Name, project: dest.Jira.Project, site: siteOf(dest.Jira.URL)}
		for _, prev := range seen {
			if prev.site == cur.site && !strings.EqualFold(prev.project, cur.project) {
				d.add(join(cur.path, "jira.project"), items[i].node,
					"two-way sync of project %s on %s, but destination %q (%s) already syncs project %s two-way on the same Jira site; use one project per site for two-way sync, or make one of them one-way",
					cur.project, cur.site, prev.name, prev.path, prev.project)
			}
		}
		seen = append(seen, cur)
	}
	sites := map[string]bool{}
	for _, s := range seen {
		sites[s.site] = true
	}
	if len(sites) > 1 {
		for _, s := range seen {
			warnings = append(warnings, Problem{Path: join(s.path, "jira.sync"), Message: fmt.Sprintf(
				"two-way sync runs on %d Jira sites: alertbridge ignores its own changes on each site, but if anything else copies issues between those sites (an issue-sync app, automation with another account) a change can come back under another user's name and loop; make sure nothing does",
				len(sites))})
		}
	}
	return warnings
}

// siteOf normalises a Jira URL to its site: scheme, lower-case host and
// path, so that spellings of one site compare equal.
func siteOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.ToLower(strings.TrimRight(raw, "/"))
	}
	return strings.ToLower(u.Host + strings.TrimRight(u.Path, "/"))
}
