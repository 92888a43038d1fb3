package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/console"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/signin"
	"github.com/alertbridge/alertbridge/source/atlassian"
	"github.com/alertbridge/alertbridge/store"
)

// newConsole builds the console and its sign-in from the configuration
// in force; cfg and rules are read on every page, so a reload shows at
// once. Users and the OIDC provider are read at start.
func newConsole(ctx context.Context, cfg *config.Config, current *atomic.Pointer[config.Config], rules *atomic.Pointer[ruleengine.RuleSet],
	st store.Store, svc *lifecycle.Service, logger *slog.Logger) (*console.Console, *signin.SignIn, error) {
	c := cfg.Server.Console
	hashes := map[string]string{}
	for _, u := range c.Users {
		hashes[u.Name] = u.PasswordHash.Value()
	}
	var provider *signin.OIDC
	if o := c.OIDC; o != nil {
		var err error
		provider, err = signin.NewOIDC(ctx, signin.OIDCConfig{
			IssuerURL: o.IssuerURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret.Value(),
			RedirectURL: cfg.Server.PublicURL + "/login/oidc/callback", UsernameClaim: o.UsernameClaim, Scopes: o.Scopes,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("server.console.oidc: %w", err)
		}
	}
	in := signin.New(signin.Config{
		Store: st, Users: auth.NewUsers(hashes), OIDC: provider, TTL: c.SessionTTL,
		Secure: strings.HasPrefix(cfg.Server.PublicURL, "https://"), Logger: logger,
	})
	ui := console.New(console.Config{
		Service: svc, Store: st, SignIn: in, Logger: logger,
		Destinations: func() []console.Destination { return consoleDestinations(current.Load()) },
		Rules:        func() []console.Rule { return consoleRules(rules.Load()) },
		Sources:      func() []console.Source { return consoleSources(current.Load()) },
	})
	if !c.Enabled() {
		logger.Warn("no server.console users or oidc: the console's pages refuse everyone")
	}
	return ui, in, nil
}

func consoleDestinations(cfg *config.Config) []console.Destination {
	out := make([]console.Destination, 0, len(cfg.Destinations))
	for _, d := range cfg.Destinations {
		cd := console.Destination{Name: d.Name}
		switch {
		case d.Jira != nil:
			cd.Where = d.Jira.URL + " · project " + d.Jira.Project
			s := d.Jira.Sync
			cd.Sync = map[string]string{"status": string(s.Status), "assignee": string(s.Assignee), "comments": string(s.Comments)}
			cd.StatusMap = map[alert.Status]string{}
			for _, st := range alert.Statuses {
				if js, ok := s.StatusMap[st]; ok {
					cd.StatusMap[st] = js
				}
			}
		case d.Webhook != nil:
			if u, err := url.Parse(d.Webhook.URL); err == nil {
				cd.Where = u.Scheme + "://" + u.Host
			}
		}
		out = append(out, cd)
	}
	return out
}

func consoleRules(rs *ruleengine.RuleSet) []console.Rule {
	if rs == nil {
		return nil
	}
	var out []console.Rule
	for _, r := range rs.Rules() {
		out = append(out, console.Rule{ID: r.ID, Name: r.DisplayName, Enabled: r.Enabled, Severity: r.Severity,
			LogTypes: r.LogTypes, Threshold: r.Threshold, DedupPeriod: r.DedupPeriod})
	}
	return out
}

func consoleSources(cfg *config.Config) []console.Source {
	var out []console.Source
	for _, s := range cfg.Sources {
		out = append(out, console.Source{Name: s.Name, Type: s.Type, PollInterval: s.PollInterval,
			KeyExpires: s.APIKeyExpires, Checkpoint: atlassian.CheckpointName(s.Name)})
	}
	return out
}

func hashPassword(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("hash-password", "hash-password < PASSWORD", `
Reads a password from the first line of stdin and prints its bcrypt hash
(cost 12), for a console user's password_hash_env or password_hash_file:

  printf '%s' "$PASSWORD" | alertbridge hash-password > /run/secrets/alice.hash

Exit 1 when the password is empty or longer than bcrypt's 72 bytes.`, stdout, stderr)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.needArgs(0, ""); !ok {
		return code
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "alertbridge hash-password: read stdin:", err)
		return 1
	}
	h, err := auth.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		fmt.Fprintln(stderr, "alertbridge hash-password:", err)
		return 1
	}
	fmt.Fprintln(stdout, h)
	return 0
}
