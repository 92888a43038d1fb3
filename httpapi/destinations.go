package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/store"
)

type destinationView struct {
	Name           string           `json:"name"`
	Type           string           `json:"type"`
	Severities     []alert.Severity `json:"severities"`
	AlertTypes     []alert.Type     `json:"alertTypes"`
	LogTypes       []string         `json:"logTypes"`
	ManualDispatch bool             `json:"manualDispatch"`
	LastSuccess    *time.Time       `json:"lastSuccess"`
	LastErrorAt    *time.Time       `json:"lastErrorAt"`
	LastError      string           `json:"lastError"`
}

func (s *Server) listDestinations(w http.ResponseWriter, r *http.Request) error {
	var health map[string]store.Health
	err := s.cfg.Store.View(r.Context(), func(tx store.Tx) (err error) {
		health, err = tx.DestinationHealth(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	out := []destinationView{}
	for _, d := range s.cfg.Service.Destinations() {
		h := health[d.Name]
		out = append(out, destinationView{
			Name: d.Name, Type: d.Type, Severities: orAll(d.Severities, alert.Severities),
			AlertTypes: orAll(d.AlertTypes, alert.Types), LogTypes: orEmpty(d.LogTypes), ManualDispatch: d.ManualDispatch,
			LastSuccess: timeOrNil(h.LastSuccess), LastErrorAt: timeOrNil(h.LastErrorAt), LastError: h.LastError,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"destinations": out})
	return nil
}

func orAll[T any](v, all []T) []T {
	if len(v) == 0 {
		return all
	}
	return v
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) testDestination(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	actor, err := s.actor(r, "", nil)
	if err != nil {
		return err
	}
	id, err := s.cfg.Service.SendTest(r.Context(), name, actor)
	if errors.Is(err, lifecycle.ErrUnknownDest) {
		return notFound("no destination named " + name)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"alertId": id, "destination": name})
	return nil
}
