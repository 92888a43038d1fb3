package config

import (
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/auth"
)

// Console configures who may sign in to the web console.
type Console struct {
	// Users sign in with a name and password, checked against a bcrypt
	// hash (as Prometheus's web configuration has it).
	Users []ConsoleUser
	// OIDC, when set, signs people in through the company's identity
	// provider (authorisation code flow with PKCE).
	OIDC *OIDC
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
}

// Enabled reports whether anyone can sign in.
func (c Console) Enabled() bool { return len(c.Users) > 0 || c.OIDC != nil }

// ConsoleUser is one console user with a password.
type ConsoleUser struct {
	Name         string
	PasswordHash Secret // bcrypt
}

// OIDC is an OpenID Connect identity provider.
type OIDC struct {
	IssuerURL    string
	ClientID     string
	ClientSecret Secret
	// UsernameClaim is the ID token claim that names the person (default
	// email); with email, the provider must say it is verified.
	UsernameClaim string
	// Scopes are requested besides openid.
	Scopes []string
}

func (d *decoder) console(b *block) Console {
	c := Console{SessionTTL: b.duration("session_ttl", 12*time.Hour, time.Minute, 30*24*time.Hour)}
	first := map[string]string{}
	for _, it := range b.items("users") {
		ub := d.block(it.path, it.node)
		u := ConsoleUser{Name: ub.required("name"), PasswordHash: ub.requiredSecret("password_hash")}
		if u.PasswordHash.IsSet() {
			if err := auth.CheckHash(u.PasswordHash.Value()); err != nil {
				// The message says what is wrong with the value, never the value.
				key := "password_hash_env"
				if strings.HasPrefix(u.PasswordHash.Source(), "file ") {
					key = "password_hash_file"
				}
				ub.problem(key, "%s: %v", u.PasswordHash.Source(), err)
			}
		}
		d.unique(ub, "console user", u.Name, first)
		ub.done()
		c.Users = append(c.Users, u)
	}
	if ob := b.sub("oidc"); ob.node != nil {
		o := &OIDC{
			IssuerURL:     ob.httpURL("issuer_url", true),
			ClientID:      ob.required("client_id"),
			ClientSecret:  ob.requiredSecret("client_secret"),
			UsernameClaim: ob.str("username_claim", "email"),
		}
		var given bool
		if o.Scopes, given = ob.strs("scopes"); !given {
			o.Scopes = []string{"email", "profile"}
		}
		ob.done()
		c.OIDC = o
	}
	b.done()
	return c
}

// scopes reads a token's scopes; unset is every scope, with a warning.
func (d *decoder) scopes(b *block, path string) []auth.Scope {
	items, ok := b.list("scopes")
	if !ok {
		d.warnings = append(d.warnings, Problem{Path: join(path, "scopes"), Line: lineOf(b),
			Message: "no scopes set: the token may do everything (ingest, read, triage, admin, act_as); give it only the scopes it needs"})
		return auth.AllScopes
	}
	out := parseList(d, items, auth.ParseScope)
	if len(out) == 0 && len(items) == 0 {
		b.problem("scopes", "empty: a token needs at least one scope (or leave the key out for all of them)")
	}
	return out
}

func lineOf(b *block) int {
	if b.node == nil {
		return 0
	}
	return b.node.Line
}
