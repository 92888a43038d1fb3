package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/alertbridge/alertbridge/internal/pagesec"
)

// OIDCConfig is an OpenID Connect provider to sign in through.
type OIDCConfig struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// RedirectURL is public_url/login/oidc/callback.
	RedirectURL   string
	UsernameClaim string
	Scopes        []string
}

// OIDC is a discovered provider.
type OIDC struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	claim    string
}

// NewOIDC reads the provider's discovery document.
func NewOIDC(ctx context.Context, c OIDCConfig) (*OIDC, error) {
	p, err := oidc.NewProvider(ctx, c.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("oidc: discover %s: %w", c.IssuerURL, err)
	}
	claim := c.UsernameClaim
	if claim == "" {
		claim = "email"
	}
	return &OIDC{
		oauth: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, c.Scopes...)},
		verifier: p.Verifier(&oidc.Config{ClientID: c.ClientID}),
		claim:    claim,
	}, nil
}

// oidcCookie holds one sign-in's state between the redirect to the
// provider and its return: HttpOnly, short-lived, only sent to the callback.
const oidcCookie = "alertbridge_oidc"

type oidcState struct {
	State, Nonce, Verifier, Next string
}

func random() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *SignIn) oidcStart(w http.ResponseWriter, r *http.Request) {
	o := s.cfg.OIDC
	if o == nil {
		s.render(w, http.StatusNotFound, loginView{Error: "Signing in with an identity provider is not configured."})
		return
	}
	st := oidcState{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: pagesec.LocalPath(r.URL.Query().Get("next"))}
	raw, _ := json.Marshal(st)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: base64.RawURLEncoding.EncodeToString(raw), Path: "/login/oidc",
		MaxAge: int((10 * time.Minute).Seconds()), HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, o.oauth.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), http.StatusSeeOther)
}

func (s *SignIn) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := s.cfg.OIDC
	if o == nil {
		s.render(w, http.StatusNotFound, loginView{Error: "Signing in with an identity provider is not configured."})
		return
	}
	refuse := func(why string, args ...any) {
		s.cfg.Logger.Warn("console OIDC sign-in refused", "reason", fmt.Sprintf(why, args...))
		s.render(w, http.StatusBadRequest, loginView{Error: "Signing in with the identity provider failed: " + fmt.Sprintf(why, args...)})
	}
	var st oidcState
	c, err := r.Cookie(oidcCookie)
	if err == nil {
		var raw []byte
		if raw, err = base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			err = json.Unmarshal(raw, &st)
		}
	}
	if err != nil || st.State == "" {
		refuse("the sign-in was not started here, or took longer than 10 minutes; start again")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/login/oidc", MaxAge: -1, HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		refuse("the provider answered %s", e)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		refuse("the state does not match this browser's sign-in")
		return
	}
	ctx := r.Context()
	tok, err := o.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		refuse("exchanging the code: %v", err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		refuse("the provider sent no ID token")
		return
	}
	id, err := o.verifier.Verify(ctx, rawID)
	if err != nil {
		refuse("the ID token: %v", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(st.Nonce)) != 1 {
		refuse("the ID token's nonce does not match")
		return
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		refuse("the ID token's claims: %v", err)
		return
	}
	name, _ := claims[o.claim].(string)
	if name == "" {
		refuse("the ID token has no %s claim", o.claim)
		return
	}
	if o.claim == "email" {
		if verified, _ := claims["email_verified"].(bool); !verified {
			refuse("the provider has not verified the e-mail address %s", name)
			return
		}
	}
	if err := s.start(ctx, w, name, MethodOIDC); err != nil {
		s.fail(w, err)
		return
	}
	http.Redirect(w, r, st.Next, http.StatusSeeOther)
}
