package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestActor(t *testing.T) {
	bot := Principal{Name: "bot", Token: true, Scopes: []Scope{ScopeTriage, ScopeActAs}}
	ci := Principal{Name: "ci", Token: true, Scopes: []Scope{ScopeTriage}}
	alice := Principal{Name: "alice@example.com", Scopes: AllScopes}
	for _, c := range []struct {
		p           Principal
		given, want string
		refused     bool
	}{
		{p: ci, want: "token:ci"},
		{p: ci, given: "bob@example.com", refused: true},
		{p: bot, want: "token:bot"},
		{p: bot, given: "bob@example.com", want: "bob@example.com via token:bot"},
		{p: alice, want: "alice@example.com"},
		{p: alice, given: "alice@example.com", want: "alice@example.com"},
		// A console user holds act_as in its scopes but is no bot: what a
		// person does is theirs.
		{p: alice, given: "bob@example.com", refused: true},
	} {
		got, err := c.p.Actor(c.given)
		var missing *MissingScopeError
		switch {
		case c.refused && (!errors.As(err, &missing) || missing.Scope != ScopeActAs):
			t.Errorf("%s naming %q: %q, %v; want refused for lack of act_as", c.p.Name, c.given, got, err)
		case !c.refused && (err != nil || got != c.want):
			t.Errorf("%s naming %q: %q, %v; want %q", c.p.Name, c.given, got, err, c.want)
		}
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]Scope{"read": ScopeRead, "TRIAGE": ScopeTriage, " act_as ": ScopeActAs} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseScope("write"); err == nil || !strings.Contains(err.Error(), "ingest, read, triage, admin, act_as") {
		t.Errorf("ParseScope(write): %v", err)
	}
	err := (&MissingScopeError{Principal: Principal{Name: "ci", Token: true}, Scope: ScopeRead, For: "GET /api/v1/alerts"}).Error()
	if err != `token "ci" lacks the read scope, needed for GET /api/v1/alerts` {
		t.Errorf("message %q", err)
	}
}

func TestThrottleWait(t *testing.T) {
	th := Throttle{Free: 3, Base: time.Second, Max: 10 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		failures int
		since    time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{2, 0, 0},
		{3, 0, time.Second},
		{3, 400 * time.Millisecond, 600 * time.Millisecond},
		{3, time.Second, 0},
		{4, 0, 2 * time.Second},
		{5, 0, 4 * time.Second},
		{6, 0, 8 * time.Second},
		{7, 0, 10 * time.Second}, // capped
		{1000, 0, 10 * time.Second},
		{1000, 11 * time.Second, 0},
	} {
		if got := th.Wait(c.failures, t0, t0.Add(c.since)); got != c.want {
			t.Errorf("%d failures, %s later: wait %s, want %s", c.failures, c.since, got, c.want)
		}
	}
	if got := th.Forget(t0); got != t0.Add(20*time.Second) {
		t.Errorf("forget at %s", got)
	}
}

func TestUsersVerify(t *testing.T) {
	// The cost is checked where hashes are configured; bcrypt's least
	// keeps this test quick under the race detector.
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	u := NewUsers(map[string]string{"alice@example.com": string(h)})
	for _, c := range []struct {
		name, pw string
		want     bool
	}{
		{"alice@example.com", "correct horse", true},
		{"alice@example.com", "wrong", false},
		{"alice@example.com", "", false},
		{"mallory@example.com", "correct horse", false},
		{"mallory@example.com", "no such user", false},
	} {
		if got := u.Verify(c.name, c.pw); got != c.want {
			t.Errorf("Verify(%q, %q) = %v", c.name, c.pw, got)
		}
	}
}

func TestCheckHash(t *testing.T) {
	low, _ := bcrypt.GenerateFromPassword([]byte("x"), 4)
	ok, _ := bcrypt.GenerateFromPassword([]byte("x"), MinCost)
	if err := CheckHash(string(ok)); err != nil {
		t.Errorf("cost %d refused: %v", MinCost, err)
	}
	if err := CheckHash(string(low)); err == nil || !strings.Contains(err.Error(), "cost 4") {
		t.Errorf("cost 4: %v", err)
	}
	if err := CheckHash("hunter2"); err == nil || !strings.Contains(err.Error(), "hash-password") {
		t.Errorf("plain text: %v", err)
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Error("73-byte password hashed")
	}
}
