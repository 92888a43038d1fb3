// Package auth decides who a request is and what it may do: API token
// scopes, console users' passwords, and how often a sign-in may be tried.
// It holds the decisions only; cookies, sessions and HTTP live with their
// callers.
package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Scope is one kind of access an API token can be given.
type Scope string

// Scopes. A token without configured scopes has all of them, as every
// token had before scopes existed.
const (
	// ScopeIngest posts alerts, notifications and log events.
	ScopeIngest Scope = "ingest"
	// ScopeRead reads alerts and destinations.
	ScopeRead Scope = "read"
	// ScopeTriage changes alerts: status, assignee, comments, dispatch,
	// test alerts.
	ScopeTriage Scope = "triage"
	// ScopeAdmin runs the service: reloading its configuration.
	ScopeAdmin Scope = "admin"
	// ScopeActAs lets a trusted bot name the person it acts for (the
	// actor and author fields); without it those name the token.
	ScopeActAs Scope = "act_as"
)

// AllScopes lists every scope, in the order the documentation gives them.
var AllScopes = []Scope{ScopeIngest, ScopeRead, ScopeTriage, ScopeAdmin, ScopeActAs}

// ParseScope reads a scope name, case-insensitively.
func ParseScope(s string) (Scope, error) {
	sc := Scope(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(AllScopes, sc) {
		names := make([]string, len(AllScopes))
		for i, a := range AllScopes {
			names[i] = string(a)
		}
		return "", fmt.Errorf("unknown scope %q; want one of %s", s, strings.Join(names, ", "))
	}
	return sc, nil
}

// Principal is who made a request: a console user signed in, or an API
// token.
type Principal struct {
	// Name is the user's name (an e-mail) or the token's configured name.
	Name string
	// Token is true for an API token, false for a console user.
	Token  bool
	Scopes []Scope
}

// Has reports whether the principal holds the scope.
func (p Principal) Has(s Scope) bool { return slices.Contains(p.Scopes, s) }

// Actor is how a change the principal makes is attributed: a console
// user by name, a token as "token:NAME". A token with ScopeActAs may name
// the person it acts for; that is recorded as "PERSON via token:NAME", so
// the timeline shows both who was named and who named them. Anyone else
// naming an actor is refused, never silently re-attributed.
func (p Principal) Actor(given string) (string, error) {
	self := p.Name
	if p.Token {
		self = "token:" + p.Name
	}
	if given == "" || (!p.Token && given == p.Name) {
		return self, nil
	}
	if !p.Token || !p.Has(ScopeActAs) {
		return "", &MissingScopeError{Principal: p, Scope: ScopeActAs, For: "naming another actor"}
	}
	return given + " via " + self, nil
}

// MissingScopeError says which scope a request lacked.
type MissingScopeError struct {
	Principal Principal
	Scope     Scope
	For       string // what the scope was needed for
}

func (e *MissingScopeError) Error() string {
	who := fmt.Sprintf("user %q", e.Principal.Name)
	if e.Principal.Token {
		who = fmt.Sprintf("token %q", e.Principal.Name)
	}
	return fmt.Sprintf("%s lacks the %s scope, needed for %s", who, e.Scope, e.For)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
