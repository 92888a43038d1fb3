// Package signin is who is signed in to the console: the sign-in form
// (console users' passwords, throttled), OpenID Connect, sessions kept in
// the database so that any replica serves them, and the guard that sends
// a browser without a session to /login.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/auth"
	"github.com/alertbridge/alertbridge/internal/pagesec"
	"github.com/alertbridge/alertbridge/store"
)

// Sign-in methods, as sessions record them.
const (
	MethodPassword = "password"
	MethodOIDC     = "oidc"
)

// Config configures sign-in.
type Config struct {
	Store store.Store
	// Users are the console users with passwords; nil or empty: the form
	// refuses every name.
	Users *auth.Users
	// OIDC signs people in through an identity provider; nil: off.
	OIDC *OIDC
	TTL  time.Duration
	// Secure marks the cookies Secure (public_url is https).
	Secure bool
	Now    func() time.Time
	Logger *slog.Logger
	// UserThrottle and AddrThrottle slow down failed sign-ins per name and
	// per client address; zero: auth's defaults.
	UserThrottle, AddrThrottle auth.Throttle
}

// SignIn serves /login and /logout and guards the console's pages.
type SignIn struct {
	cfg Config
	cop *http.CrossOriginProtection
}

// New builds sign-in.
func New(cfg Config) *SignIn {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 12 * time.Hour
	}
	if cfg.Users == nil {
		cfg.Users = auth.NewUsers(nil)
	}
	if cfg.UserThrottle == (auth.Throttle{}) {
		cfg.UserThrottle = auth.DefaultUserThrottle
	}
	if cfg.AddrThrottle == (auth.Throttle{}) {
		cfg.AddrThrottle = auth.DefaultAddrThrottle
	}
	return &SignIn{cfg: cfg, cop: http.NewCrossOriginProtection()}
}

// Mux is where routes are registered (an http.ServeMux, or the API server).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the sign-in routes.
func (s *SignIn) Register(m Mux) {
	m.Handle("GET /login", http.HandlerFunc(s.loginPage))
	m.Handle("POST /login", s.cop.Handler(http.HandlerFunc(s.login)))
	m.Handle("POST /logout", s.cop.Handler(http.HandlerFunc(s.logout)))
	m.Handle("GET /login/oidc", http.HandlerFunc(s.oidcStart))
	m.Handle("GET /login/oidc/callback", http.HandlerFunc(s.oidcCallback))
}

type userKey struct{}

// User is the signed-in user's name, for a request Require let through.
func User(ctx context.Context) (string, bool) {
	name, ok := ctx.Value(userKey{}).(string)
	return name, ok
}

// Require lets a request through only with a live session: a page
// without one is sent to /login (303, with the page to come back to), and
// a form posted from another origin is refused (403) before anything else.
func (s *SignIn) Require(next http.Handler) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.session(r)
		if err != nil {
			s.cfg.Logger.Error("read console session", "error", err)
			http.Error(w, "cannot read the session; see the server log", http.StatusInternalServerError)
			return
		}
		if sess == nil {
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				// After signing in, the form is not posted again: its page is shown.
				next = r.Referer()
				if u, err := url.Parse(next); err == nil {
					next = u.RequestURI()
				}
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(pagesec.LocalPath(next)), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, sess.Username)))
	}))
}

// cookieName carries the __Host- prefix when the cookie is Secure, so
// that no other host or path can set or shadow it.
func (s *SignIn) cookieName() string {
	if s.cfg.Secure {
		return "__Host-alertbridge_session"
	}
	return "alertbridge_session"
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// session is the request's live session, or nil.
func (s *SignIn) session(r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	var sess *store.Session
	err = s.cfg.Store.View(r.Context(), func(tx store.Tx) (err error) {
		sess, err = tx.GetSession(r.Context(), hashID(c.Value))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.cfg.Now().Before(sess.ExpiresAt) {
		return nil, nil
	}
	return sess, nil
}

// start opens a session for the user and sets its cookie; expired
// sessions are cleared in the same transaction, so the table stays small
// without a job of its own.
func (s *SignIn) start(ctx context.Context, w http.ResponseWriter, user, method string) error {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.cfg.Now().UTC()
	sess := store.Session{IDHash: hashID(id), Username: user, Method: method, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
	err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.PruneSessions(ctx, now); err != nil {
			return err
		}
		return tx.PutSession(ctx, sess)
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: id, Path: "/", MaxAge: int(s.cfg.TTL.Seconds()),
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	s.cfg.Logger.Info("console sign-in", "user", user, "method", method)
	return nil
}

func (s *SignIn) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		err := s.cfg.Store.InTx(r.Context(), func(tx store.Tx) error { return tx.DeleteSession(r.Context(), hashID(c.Value)) })
		if err != nil {
			s.cfg.Logger.Error("end console session", "error", err)
			http.Error(w, "cannot end the session; see the server log", http.StatusInternalServerError)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

//go:embed login.html
var pageFS embed.FS

var loginTemplate = template.Must(template.ParseFS(pageFS, "login.html"))

type loginView struct {
	Next, Username, Error string
	OIDC                  bool
	Passwords             bool
}

func (s *SignIn) render(w http.ResponseWriter, status int, v loginView) {
	v.OIDC, v.Passwords = s.cfg.OIDC != nil, s.cfg.Users.Len() > 0
	pagesec.Set(w.Header())
	w.WriteHeader(status)
	if err := loginTemplate.Execute(w, v); err != nil {
		s.cfg.Logger.Error("render the sign-in page", "error", err)
	}
}

func (s *SignIn) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, loginView{Next: pagesec.LocalPath(r.URL.Query().Get("next"))})
}

// MaxField bounds the sign-in form's fields; bcrypt reads 72 bytes.
const MaxField = 256

func (s *SignIn) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, loginView{Error: "The form could not be read."})
		return
	}
	name, password := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	v := loginView{Next: pagesec.LocalPath(r.PostForm.Get("next")), Username: name}
	if name == "" || password == "" || len(name) > MaxField || len(password) > MaxField {
		v.Error = "Enter your user name and password."
		s.render(w, http.StatusBadRequest, v)
		return
	}
	ctx := r.Context()
	now := s.cfg.Now().UTC()
	keys := []struct {
		key string
		th  auth.Throttle
	}{{"user:" + name, s.cfg.UserThrottle}, {"addr:" + clientAddr(r), s.cfg.AddrThrottle}}
	var wait time.Duration
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			n, last, err := tx.LoginFailures(ctx, k.key)
			if err != nil {
				return err
			}
			wait = max(wait, k.th.Wait(n, last, now))
		}
		return nil
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	if wait > 0 {
		// Checked before the password, so a throttled guess learns nothing.
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		v.Error = fmt.Sprintf("Too many failed sign-ins. Try again in %d seconds.", secs)
		s.render(w, http.StatusTooManyRequests, v)
		return
	}
	if !s.cfg.Users.Verify(name, password) {
		err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error {
			for _, k := range keys {
				if err := tx.RecordLoginFailure(ctx, k.key, now, now.Add(-2*k.th.Max)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.fail(w, err)
			return
		}
		s.cfg.Logger.Warn("console sign-in refused", "user", name, "addr", clientAddr(r))
		v.Error = "Wrong user name or password."
		s.render(w, http.StatusUnauthorized, v)
		return
	}
	if err := s.cfg.Store.InTx(ctx, func(tx store.Tx) error { return tx.ClearLoginFailures(ctx, keys[0].key) }); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.start(ctx, w, name, MethodPassword); err != nil {
		s.fail(w, err)
		return
	}
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

func (s *SignIn) fail(w http.ResponseWriter, err error) {
	s.cfg.Logger.Error("console sign-in failed", "error", err)
	s.render(w, http.StatusInternalServerError, loginView{Error: "Signing in failed on the server; see its log."})
}

// clientAddr is the address the connection came from. Forwarded headers
// are not believed: anyone can send them.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
