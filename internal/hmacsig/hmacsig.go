// Package hmacsig signs and checks request bodies the way GitHub-style
// webhooks do: "sha256=" and the hex HMAC-SHA256 of the body. Jira signs
// its webhooks so (X-Hub-Signature), alertbridge signs its own webhook
// deliveries so (X-Alertbridge-Signature), and the Jira sandbox imitates
// Jira with it; one implementation keeps sender and receiver in agreement.
package hmacsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// prefix names the algorithm. It is matched exactly: Jira and GitHub send
// it in lower case, and accepting other spellings would only widen what an
// attacker may try.
const prefix = "sha256="

// Sign returns the signature of body under secret: "sha256=" and 64
// lower-case hex digits.
func Sign(secret string, body []byte) string {
	return prefix + hex.EncodeToString(sum(secret, body))
}

// Verify reports whether header is the signature of body under secret. The
// hex digits may be in either case; the comparison takes the same time
// wherever the first difference is, so a caller cannot learn the right
// signature byte by byte.
func Verify(secret string, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, prefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	return hmac.Equal(got, sum(secret, body))
}

func sum(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}
