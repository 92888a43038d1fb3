package atlassian

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURLError(t *testing.T) {
	inner := errors.New("connection refused")
	err := redactURLError(&url.Error{Op: "Get", URL: "https://u:hunter2@proxy.example/admin/v1/orgs/o/events?token=opensesame&cursor=c1", Err: inner})
	msg := err.Error()
	for _, secret := range []string{"hunter2", "opensesame"} {
		if strings.Contains(msg, secret) {
			t.Errorf("%q shows %s", msg, secret)
		}
	}
	// What tells one request from another stays readable.
	for _, keep := range []string{"proxy.example/admin/v1/orgs/o/events", "cursor=c1", "connection refused"} {
		if !strings.Contains(msg, keep) {
			t.Errorf("%q lost %s", msg, keep)
		}
	}
	var ue *url.Error
	if !errors.As(err, &ue) || !errors.Is(err, inner) {
		t.Errorf("%v: want a *url.Error wrapping the transport's error", err)
	}
	if plain := errors.New("x"); redactURLError(plain) != plain {
		t.Error("an error without a URL changed")
	}
}
