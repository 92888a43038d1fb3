package apierror

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name string
		e    *Error
		want string
	}{
		{"with field", &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "severity", Message: "unknown severity"},
			`{"error":{"code":"invalid_field","field":"severity","message":"unknown severity"}}`},
		{"without field", &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no alert"},
			`{"error":{"code":"not_found","message":"no alert"}}`},
		{"quotes the client unescaped", &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: "title", Message: `"<b>" & more`},
			`{"error":{"code":"invalid_field","field":"title","message":"\"<b>\" & more"}}`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		Write(rec, tt.e)
		if rec.Code != tt.e.Status {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.e.Status)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
		if got := rec.Body.String(); got != tt.want+"\n" {
			t.Errorf("%s: body %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestFrom(t *testing.T) {
	classified := &Error{Status: http.StatusServiceUnavailable, Code: "jira_unavailable", Message: "Jira is down"}
	tests := []struct {
		name       string
		err        error
		status     int
		code, mess string
	}{
		{"classified", classified, 503, "jira_unavailable", "Jira is down"},
		{"wrapped", fmt.Errorf("apply: %w", classified), 503, "jira_unavailable", "Jira is down"},
		{"unclassified hides its detail", errors.New("pq: relation alerts does not exist"), 500, "internal", "internal error; see the server log"},
	}
	for _, tt := range tests {
		e := From(tt.err)
		if e.Status != tt.status || e.Code != tt.code || e.Message != tt.mess || e.Field != "" {
			t.Errorf("%s: From = %+v", tt.name, e)
		}
	}
}
