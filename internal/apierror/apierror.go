// Package apierror is the error answer of every HTTP endpoint alertbridge
// serves, the REST API and the Jira webhook receiver alike, so a client
// reads one shape: {"error": {"code": "invalid_field", "field": "severity",
// "message": "…"}}. Codes are part of the contract; messages are for people.
package apierror

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Error is an answer in the contract's error shape. Handlers return it as an
// error, so the status is decided where the failure is understood and
// rendered once, by Write.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// From turns any error into the answer it deserves. Anything not already an
// *Error is a server fault whose detail may name internals, so it stays in
// the caller's log and the client is told only where to look.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; see the server log"}
}

// Write sends e as the whole answer.
func Write(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	enc := json.NewEncoder(w)
	// Messages quote what the client sent; \u003c for < only hurts reading.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]*Error{"error": e})
}
