package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/alertbridge/alertbridge/internal/apierror"
)

func badField(field, msg string) *apierror.Error {
	return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Message: msg}
}

func notFound(msg string) *apierror.Error {
	return &apierror.Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
