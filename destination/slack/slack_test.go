package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/slack"
)

func TestMessageEscapesMarkup(t *testing.T) {
	a := &alert.Alert{AlertID: "a-1", Severity: alert.SeverityHigh, Title: "<!channel> & <b>", Link: "https://x.example/a"}
	text := slack.Message(a, "")["text"].(string)
	if strings.Contains(text, "<!channel>") || !strings.Contains(text, "&lt;!channel&gt; &amp; &lt;b&gt;") {
		t.Errorf("title not escaped: %q", text)
	}
	if !strings.Contains(text, "<https://x.example/a|") {
		t.Errorf("without a public URL the title does not lead to the source: %q", text)
	}
	// With one, the title leads to the alert's page, and the source has a
	// line of its own.
	text = slack.Message(a, "https://ab.example/")["text"].(string)
	if !strings.Contains(text, "*[HIGH] <https://ab.example/alerts/a-1|") || !strings.Contains(text, "\nSource: <https://x.example/a>") {
		t.Errorf("links: %q", text)
	}
	a.Link = ""
	if text = slack.Message(a, "")["text"].(string); strings.Contains(text, "<|") || strings.Contains(text, "Source") {
		t.Errorf("an alert with no link and no public URL: %q", text)
	}
}

func TestNotifyPostsAndKeepsTheURLSecret(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("no_service"))
		}
	}))
	defer srv.Close()
	a := &alert.Alert{AlertID: "a-1", Severity: alert.SeverityLow, Title: "hello"}
	if _, err := slack.New(slack.Config{WebhookURL: srv.URL + "/services/T/B/secret"}).Notify(context.Background(), destination.Notification{Alert: a}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got["text"].(string), "hello") {
		t.Errorf("text = %v", got["text"])
	}
	_, err := slack.New(slack.Config{WebhookURL: srv.URL + "/bad"}).Notify(context.Background(), destination.Notification{Alert: a})
	if err == nil || !destination.IsPermanent(err) || !strings.Contains(err.Error(), "no_service") {
		t.Errorf("404: err = %v, want permanent with Slack's reason", err)
	}
	// A connection failure must not quote the webhook URL, a credential.
	_, err = slack.New(slack.Config{WebhookURL: "http://127.0.0.1:1/services/T/B/s3cret"}).Notify(context.Background(), destination.Notification{Alert: a})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("connection error = %v: must fail without the URL", err)
	}
}
