package hmacsig

import (
	"strings"
	"testing"
)

// Known answers computed elsewhere, so Sign is checked against HMAC-SHA256
// itself and not against this package.
func TestSignKnownAnswers(t *testing.T) {
	tests := []struct {
		name, secret, body, want string
	}{
		// RFC 4231, test case 2.
		{"rfc4231", "Jefe", "what do ya want for nothing?", "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		// GitHub's documented example for X-Hub-Signature-256.
		{"github", "It's a Secret to Everybody", "Hello, World!", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
	}
	for _, tt := range tests {
		if got := Sign(tt.secret, []byte(tt.body)); got != tt.want {
			t.Errorf("%s: Sign = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"a":1}`)
	sig := Sign("k", body)
	hexSum := strings.TrimPrefix(sig, "sha256=")
	tests := []struct {
		name, secret, header string
		body                 []byte
		want                 bool
	}{
		{"right", "k", sig, body, true},
		{"upper-case hex", "k", "sha256=" + strings.ToUpper(hexSum), body, true},
		{"upper-case prefix", "k", "SHA256=" + hexSum, body, false},
		{"no prefix", "k", hexSum, body, false},
		{"other algorithm", "k", "sha1=" + hexSum, body, false},
		{"space after prefix", "k", "sha256= " + hexSum, body, false},
		{"other body", "k", sig, []byte(`{"a":2}`), false},
		{"other secret", "k2", sig, body, false},
		{"truncated", "k", sig[:len(sig)-2], body, false},
		{"odd length", "k", sig[:len(sig)-1], body, false},
		{"not hex", "k", "sha256=" + strings.Repeat("zz", 32), body, false},
		{"prefix only", "k", "sha256=", body, false},
		{"empty", "k", "", body, false},
		{"empty secret signs too", "", Sign("", body), body, true},
	}
	for _, tt := range tests {
		if got := Verify(tt.secret, tt.body, tt.header); got != tt.want {
			t.Errorf("%s: Verify(%q, %q) = %v, want %v", tt.name, tt.secret, tt.header, got, tt.want)
		}
	}
}
