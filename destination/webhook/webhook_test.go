package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/webhook"
	"github.com/alertbridge/alertbridge/internal/retryafter"
)

func sample() *alert.Alert {
	return &alert.Alert{
		ID: "Rule.X", AlertID: "a-1", CreatedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
		Severity: alert.SeverityHigh, Type: alert.TypeRule, Title: "T", Name: "N", Tags: nil,
		Context: json.RawMessage(`{"ip":"192.0.2.1"}`), LogTypes: []string{"Atlassian.Audit"},
		Source: alert.SourceAPI, Status: alert.StatusOpen,
	}
}

func TestNotifySignsThePantherPayload(t *testing.T) {
	var (
		body []byte
		hdr  http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		hdr = r.Header.Clone()
	}))
	defer srv.Close()
	n := webhook.New(webhook.Config{URL: srv.URL, Secret: "k3y", PublicURL: "https://ab.example.com/"})
	if _, err := n.Notify(context.Background(), destination.Notification{Alert: sample(), DeliveryID: 42}); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte("k3y"))
	mac.Write(body)
	if got, want := hdr.Get(webhook.SignatureHeader), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
	if hdr.Get(webhook.DeliveryHeader) != "42" || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", hdr)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	// The Panther destination schema: every documented field present.
	for _, k := range []string{"id", "createdAt", "severity", "type", "link", "title", "name", "alertId", "description", "runbook", "tags", "version", "alertContext"} {
		if _, ok := p[k]; !ok {
			t.Errorf("payload lacks %q", k)
		}
	}
	if p["link"] != "https://ab.example.com/alerts/a-1" {
		t.Errorf("link = %v, want the alert's page under public_url", p["link"])
	}
	if tags, ok := p["tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("tags = %v, want []", p["tags"])
	}
}

func TestNotifyWithoutSecretSendsNoSignature(t *testing.T) {
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig = r.Header.Get(webhook.SignatureHeader)
	}))
	defer srv.Close()
	if _, err := webhook.New(webhook.Config{URL: srv.URL}).Notify(context.Background(), destination.Notification{Alert: sample()}); err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		t.Errorf("signature %q sent without a secret", sig)
	}
}

func TestNotifyClassifiesAnswers(t *testing.T) {
	tests := []struct {
		code       int
		retryAfter string
		permanent  bool
		delay      time.Duration // 0: no RetryAfter
		ok         bool
	}{
		{code: 200, ok: true},
		{code: 204, ok: true},
		{code: 400, permanent: true},
		{code: 404, permanent: true},
		{code: 408},
		{code: 500},
		{code: 503},
		{code: 429, retryAfter: "7", delay: 7 * time.Second},
		{code: 429, delay: 30 * time.Second},                     // no header: a default wait
		{code: 429, retryAfter: "999999", delay: retryafter.Max}, // bounded like every Retry-After
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.retryAfter != "" {
				w.Header().Set("Retry-After", tt.retryAfter)
			}
			w.WriteHeader(tt.code)
			_, _ = w.Write([]byte("nope"))
		}))
		_, err := webhook.New(webhook.Config{URL: srv.URL}).Notify(context.Background(), destination.Notification{Alert: sample()})
		srv.Close()
		if tt.ok {
			if err != nil {
				t.Errorf("%d: %v", tt.code, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error", tt.code)
			continue
		}
		if destination.IsPermanent(err) != tt.permanent {
			t.Errorf("%d: permanent = %v, want %v (%v)", tt.code, !tt.permanent, tt.permanent, err)
		}
		d, ok := destination.RetryDelay(err)
		if ok != (tt.delay > 0) || d != tt.delay {
			t.Errorf("%d Retry-After %q: delay %v %v, want %v", tt.code, tt.retryAfter, d, ok, tt.delay)
		}
		if !strings.Contains(err.Error(), "nope") {
			t.Errorf("%d: error %q lacks the answer's body", tt.code, err)
		}
	}
}

func TestNotifyTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
	}))
	defer srv.Close()
	_, err := webhook.New(webhook.Config{URL: srv.URL, Timeout: 50 * time.Millisecond}).Notify(context.Background(), destination.Notification{Alert: sample()})
	if err == nil || destination.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
}
