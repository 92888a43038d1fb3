package console_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/signin"
)

// idp is an OpenID Connect provider on the far side of the network: it
// signs people in at once, remembers each authorisation's PKCE challenge
// and nonce, and gives an ID token only for the verifier that matches.
type idp struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	mu    sync.Mutex
	codes map[string]authz
	email string
	// verified is the email_verified claim it sends.
	verified bool
}

type authz struct{ challenge, nonce, redirect string }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newIDP(t *testing.T) *idp {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key, codes: map[string]authz{}, email: "oidc-user@example.com", verified: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
			"jwks_uri": p.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("client_id") != "alertbridge" {
			http.Error(w, "PKCE S256 required", http.StatusBadRequest)
			return
		}
		code := b64([]byte(q.Get("state")))[:16]
		p.mu.Lock()
		p.codes[code] = authz{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		a, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		user, secret, _ := r.BasicAuth()
		if !ok || b64(sum[:]) != a.challenge || r.PostForm.Get("redirect_uri") != a.redirect || user != "alertbridge" || secret != "client-secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		now := time.Now()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300,
			"id_token": p.sign(t, map[string]any{"iss": p.srv.URL, "aud": "alertbridge", "sub": "u1", "email": p.email,
				"email_verified": p.verified, "nonce": a.nonce, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) sign(t *testing.T, claims map[string]any) string {
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	input := b64(head) + "." + b64(body)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Error(err)
	}
	return input + "." + b64(sig)
}

// Signing in through the provider: the authorisation code flow with PKCE
// and a nonce makes a session for the verified e-mail; a callback whose
// state is not this browser's, or an unverified e-mail, makes none.
func TestOIDCSignIn(t *testing.T) {
	p := newIDP(t)
	var h *harness
	// The redirect URL needs the console's address, known once it runs;
	// the console's mux is built with the provider, so a placeholder
	// server forwards to it.
	front := httptest.NewUnstartedServer(nil)
	front.Start()
	t.Cleanup(front.Close)
	o, err := signin.NewOIDC(context.Background(), signin.OIDCConfig{IssuerURL: p.srv.URL, ClientID: "alertbridge", ClientSecret: "client-secret",
		RedirectURL: front.URL + "/login/oidc/callback", Scopes: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	h = newHarness(t, "sqlite", harnessOptions{oidc: o})
	front.Config.Handler = h.srv.Config.Handler
	h.srv = front
	h.post(t, "c-1", "seen through oidc")

	signInVia := func(c *http.Client) (answer, *http.Response) {
		a := h.do(t, c, "GET", "/login/oidc?next=/alerts/c-1", nil, nil)
		if a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), p.srv.URL+"/authorize?") {
			t.Fatalf("start: %d %q", a.status, a.header.Get("Location"))
		}
		// The provider signs the person in and sends the browser back.
		resp, err := c.Get(a.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("authorize: %s", resp.Status)
		}
		return a, resp
	}
	c := h.client(t)
	_, resp := signInVia(c)
	back := h.do(t, c, "GET", strings.TrimPrefix(resp.Header.Get("Location"), front.URL), nil, nil)
	if back.status != http.StatusSeeOther || back.header.Get("Location") != "/alerts/c-1" {
		t.Fatalf("callback: %d %q %s", back.status, back.header.Get("Location"), back.body)
	}
	if a := h.do(t, c, "GET", "/alerts/c-1", nil, nil); a.status != 200 || !strings.Contains(a.body, "oidc-user@example.com") {
		t.Errorf("page after OIDC sign-in: %d", a.status)
	}

	// Another browser's callback (a login CSRF) lacks this browser's state.
	victim := h.client(t)
	_, resp = signInVia(h.client(t))
	h.do(t, victim, "GET", "/login/oidc", nil, nil) // the victim's own, different state
	if a := h.do(t, victim, "GET", strings.TrimPrefix(resp.Header.Get("Location"), front.URL), nil, nil); a.status != http.StatusBadRequest ||
		!strings.Contains(a.body, "state does not match") {
		t.Errorf("foreign callback: %d %s", a.status, a.body)
	}
	if a := h.do(t, victim, "GET", "/", nil, nil); a.status != http.StatusSeeOther {
		t.Errorf("the foreign callback signed the victim in: %d", a.status)
	}

	p.verified = false
	c = h.client(t)
	_, resp = signInVia(c)
	if a := h.do(t, c, "GET", strings.TrimPrefix(resp.Header.Get("Location"), front.URL), nil, nil); a.status != http.StatusBadRequest ||
		!strings.Contains(a.body, "not verified") {
		t.Errorf("unverified e-mail: %d %s", a.status, a.body)
	}
}
