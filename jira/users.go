package jira

import (
	"context"
	"net/http"
	"net/url"
)

// UserByID fetches a user by the id Jira puts in changelogs and webhooks:
// the account id on Cloud, the user key on Data Center. Cloud leaves
// EmailAddress empty when the user hides it.
func (c *Client) UserByID(ctx context.Context, id string) (*User, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"key": {id}}
	if d == DeploymentCloud {
		q = url.Values{"accountId": {id}}
	}
	var u User
	if err := c.do(ctx, call{kind: KindUser, method: http.MethodGet, path: p + "/user", query: q, out: &u, dep: d}); err != nil {
		return nil, err
	}
	return &u, nil
}
