package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// hash-password prints a bcrypt hash of the password on stdin that
// check-config accepts for a console user; an empty password is refused.
func TestHashPassword(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := hashPassword(context.Background(), nil, strings.NewReader("s3cret pass\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	hash := strings.TrimSpace(out.String())
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret pass")); err != nil {
		t.Fatalf("hash %q does not match the password: %v", hash, err)
	}
	if cost, _ := bcrypt.Cost([]byte(hash)); cost != 12 {
		t.Errorf("cost %d", cost)
	}
	t.Setenv("ALICE_PASSWORD_HASH", hash)
	t.Setenv("ALERTBRIDGE_API_TOKEN", "t")
	cfg := writeConfig(t, `
server:
  api_tokens: [{name: ci, token_env: ALERTBRIDGE_API_TOKEN}]
  console:
    users: [{name: alice@example.com, password_hash_env: ALICE_PASSWORD_HASH}]
`)
	out.Reset()
	if code := run(context.Background(), []string{"check-config", "--config", cfg}, &out, &errOut); code != 0 {
		t.Fatalf("check-config: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "warning: server.api_tokens[0].scopes: no scopes set") || strings.Contains(out.String(), hash) {
		t.Errorf("check-config printed:\n%s", out.String())
	}
	for _, in := range []string{"", "\n", strings.Repeat("x", 73)} {
		out.Reset()
		errOut.Reset()
		if code := hashPassword(context.Background(), nil, strings.NewReader(in), &out, &errOut); code != 1 || out.Len() != 0 {
			t.Errorf("password %q: exit %d, printed %q", in, code, out.String())
		}
	}
}
