package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The link-back page carries no alert data, and escapes the id it echoes.
func TestAlertPage(t *testing.T) {
	s := New(Config{})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/alerts/x%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E", nil))
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	body := w.Body.String()
	if strings.Contains(body, `"><img src=x`) {
		t.Error("alert id not escaped")
	}
	if !strings.Contains(body, "/api/v1/alerts/") || w.Header().Get("Content-Security-Policy") == "" {
		t.Error("page does not read the alert through the API, or has no CSP")
	}
}
