package config

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/internal/redact"
)

func (d *decoder) server(b *block) Server {
	s := Server{
		Listen:          b.str("listen", DefaultListen),
		PublicURL:       b.httpURL("public_url", false),
		APITokens:       d.apiTokens(b.items("api_tokens")),
		ShutdownTimeout: b.duration("shutdown_timeout", 25*time.Second, 0, 0),
	}
	s.Console = d.console(b.sub("console"))
	if err := checkListen(s.Listen); err != nil {
		b.problem("listen", "%v", err)
	}
	if s.PublicURL == "" {
		s.PublicURL = defaultPublicURL(s.Listen)
	}
	limit := b.sub("ingest_rate_limit")
	s.IngestRate = limit.positive("per_second", 2000)
	s.IngestBurst = limit.integer("burst", 4000, 1)
	limit.done()
	b.done()
	return s
}

func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, like 127.0.0.1:8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	return nil
}

// defaultPublicURL derives a URL from the listen address. A wildcard host is
// replaced, since "http://:8080" or "http://0.0.0.0:8080" is not a link
// anyone can follow.
func defaultPublicURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (d *decoder) apiTokens(items []item) []APIToken {
	var tokens []APIToken
	first := map[string]string{}
	for _, it := range items {
		b := d.block(it.path, it.node)
		t := APIToken{Name: b.required("name"), Token: b.requiredSecret("token"), Scopes: d.scopes(b, it.path)}
		if prev, dup := first[t.Name]; dup && t.Name != "" {
			b.problem("name", "duplicate token name %q (first at %s)", t.Name, prev)
		} else {
			first[t.Name] = it.path
		}
		b.done()
		tokens = append(tokens, t)
	}
	return tokens
}

func (d *decoder) storage(b *block) Storage {
	s := Storage{URL: b.str("url", DefaultStorageURL)}
	if err := checkStorageURL(s.URL); err != nil {
		b.problem("url", "%v", err)
	}
	b.done()
	return s
}

// checkStorageURL never repeats the URL: it may hold a database password.
func checkStorageURL(s string) error {
	switch scheme, rest, _ := strings.Cut(s, "://"); scheme {
	case "sqlite":
		if rest == "" {
			return errors.New("a sqlite URL needs a file path, like sqlite://./alertbridge.db")
		}
	case "postgres", "postgresql":
		if _, err := url.Parse(s); err != nil {
			return errors.New("not a valid postgres URL")
		}
	default:
		return errors.New("want sqlite://PATH or postgres://USER@HOST:PORT/DB")
	}
	return nil
}

// String hides a password in the URL, should a Storage be printed.
func (s Storage) String() string { return redact.URL(s.URL) }
