package config

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/alertbridge/alertbridge/auth"
)

func TestConsoleAndScopes(t *testing.T) {
	good, _ := bcrypt.GenerateFromPassword([]byte("pw"), auth.MinCost)
	weak, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	env := fakeEnv(map[string]string{"T": "tok-T-1", "ALICE": string(good), "BOB": "hunter2", "WEAK": string(weak), "OIDC": "s3cret"},
		map[string]string{"/run/alice": string(good) + "\n"})
	cfg, err := Parse([]byte(`
server:
  api_tokens:
    - {name: ci, token_env: T, scopes: [ingest, READ]}
    - {name: old, token_env: T}
  console:
    session_ttl: 8h
    users:
      - {name: alice@example.com, password_hash_env: ALICE}
      - {name: carol@example.com, password_hash_file: /run/alice}
    oidc: {issuer_url: https://idp.example.com, client_id: alertbridge, client_secret_env: OIDC}
`), env)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if !slices.Equal(s.APITokens[0].Scopes, []auth.Scope{auth.ScopeIngest, auth.ScopeRead}) || !slices.Equal(s.APITokens[1].Scopes, auth.AllScopes) {
		t.Errorf("scopes %v, %v", s.APITokens[0].Scopes, s.APITokens[1].Scopes)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Path != "server.api_tokens[1].scopes" || !strings.Contains(cfg.Warnings[0].Message, "everything") {
		t.Errorf("warnings %v, want one for the token without scopes", cfg.Warnings)
	}
	c := s.Console
	if len(c.Users) != 2 || c.Users[0].PasswordHash.Value() != string(good) || c.Users[1].PasswordHash.Value() != string(good) ||
		c.SessionTTL.Hours() != 8 || c.OIDC == nil || c.OIDC.ClientSecret.Value() != "s3cret" || c.OIDC.UsernameClaim != "email" || !c.Enabled() {
		t.Errorf("console %+v", c)
	}

	_, err = Parse([]byte(`
server:
  api_tokens:
    - {name: ci, token_env: T, scopes: [write]}
    - {name: ci2, token_env: T, scopes: []}
  console:
    users:
      - {name: bob, password_hash_env: BOB}
      - {name: weak, password_hash_env: WEAK}
      - {name: bob, password_hash: hunter2}
    oidc: {client_id: x}
`), env)
	got := problemsOf(t, err).Error()
	for _, want := range []string{
		`server.api_tokens[0].scopes[0]: unknown scope "write"`,
		"server.api_tokens[1].scopes: empty",
		"server.console.users[0].password_hash_env: env BOB: not a bcrypt hash",
		"server.console.users[1].password_hash_env: env WEAK: bcrypt cost 4 is below 10",
		`server.console.users[2].name: duplicate console user name "bob"`,
		"server.console.users[2].password_hash: unknown key: secrets are read only from password_hash_env or password_hash_file",
		"server.console.oidc.issuer_url: required",
		"server.console.oidc.client_secret: required",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, string(weak)) {
		t.Errorf("problems show a hash:\n%s", got)
	}
}
