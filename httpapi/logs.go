package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/apierror"
	"github.com/alertbridge/alertbridge/ruleengine"
)

// maxLogTypeLen bounds the log type in the path; it ends up in alerts and
// metrics labels only through rules, but a sane name is cheap to insist on.
const maxLogTypeLen = 128

// postLogs feeds events to the rules of one log type.
//
// The events are evaluated and their alerts committed before the answer:
// a 202 means every alert they raise is on disk with its deliveries. That
// is simpler than storing raw events for a later worker (no second queue,
// no replay bookkeeping) and cheap enough, since a body is at most 1 MiB and
// the pack evaluates tens of thousands of events a second; the client's
// retry after a failure is the only redelivery needed.
func (s *Server) postLogs(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	logType := r.PathValue("logType")
	if logType == "" || len(logType) > maxLogTypeLen {
		return badField("logType", fmt.Sprintf("log type must be 1 to %d characters", maxLogTypeLen))
	}
	if err := checkText("logType", logType); err != nil {
		return err
	}
	if err := requireJSON(r, "application/x-ndjson", "application/jsonl", "application/jsonlines"); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &apierror.Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes)}
	}
	if err != nil {
		return &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_body", Message: "cannot read request body: " + err.Error()}
	}
	data, err := parseEvents(body)
	if err != nil {
		return err
	}
	rules := 0
	if s.cfg.Detections != nil {
		rules = s.cfg.Detections.Listening(logType)
	}
	if rules > 0 {
		now := time.Now().UTC()
		events := make([]ruleengine.Event, len(data))
		for i, d := range data {
			events[i] = detection.NewEvent(logType, d, now)
		}
		if _, err := s.cfg.Detections.Process(r.Context(), events); err != nil {
			return s.ingestFailed(err)
		}
	}
	s.metrics.ingest.WithLabelValues("logs", "accepted").Inc()
	s.metrics.ingestSeconds.WithLabelValues("logs").Observe(time.Since(start).Seconds())
	writeJSON(w, http.StatusAccepted, map[string]int{"accepted": len(data), "rules": rules})
	return nil
}

// parseEvents reads a JSON array of objects, or objects one per line
// (NDJSON). An error names the event by its array index or its line.
func parseEvents(body []byte) ([]map[string]any, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, badField("events", "the body holds no events: send JSON objects one per line, or a JSON array of them")
	}
	if trimmed[0] == '[' {
		return parseArray(trimmed)
	}
	var out []map[string]any
	line := 0
	for rest := body; len(rest) > 0; {
		var raw []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		ev, err := decodeObject(raw)
		if err != nil {
			return nil, badField("line "+strconv.Itoa(line), err.Error())
		}
		if err := checkEvent("line "+strconv.Itoa(line), raw); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func parseArray(body []byte) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, &apierror.Error{Status: http.StatusBadRequest, Code: "invalid_json", Field: "events", Message: err.Error()}
	}
	var out []map[string]any
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, badField(fmt.Sprintf("events[%d]", i), "not valid JSON: "+err.Error())
		}
		ev, err := decodeObject(raw)
		if err != nil {
			return nil, badField(fmt.Sprintf("events[%d]", i), err.Error())
		}
		if err := checkEvent(fmt.Sprintf("events[%d]", i), raw); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return nil, badField(fmt.Sprintf("events[%d]", len(out)), "not valid JSON: "+err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badField("events", "unexpected data after the array")
	}
	if len(out) == 0 {
		return nil, badField("events", "the array holds no events")
	}
	return out, nil
}

// checkEvent refuses an event holding text alertbridge cannot store: rules
// put event values into titles, dedup keys and alert context, which
// PostgreSQL would refuse only after the rules ran, as a 500.
func checkEvent(field string, raw []byte) error {
	if path, err := alert.CheckJSON(raw); err != nil {
		return badField(alert.JoinPath(field, path), err.Error())
	}
	return nil
}

// decodeObject decodes one event, keeping numbers exact (an ID of 19 digits
// must not become a float).
func decodeObject(raw []byte) (map[string]any, error) {
	if raw[0] != '{' {
		return nil, errors.New("want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return ev, nil
}
