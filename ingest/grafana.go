package ingest

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// grafanaMessage is Grafana's webhook contact point payload, version "1":
// Alertmanager's shape (Grafana's alerting runs Alertmanager's code) with
// the rendered title and message of the group and the organisation it
// belongs to.
type grafanaMessage struct {
	amMessage
	OrgID *int64 `json:"orgId"`
	Title string `json:"title"`
	// State is the group's, in Grafana's older words: "alerting" while any
	// alert fires, "ok" once all are resolved. Each alert's own status is
	// what resolves it.
	State   string `json:"state"`
	Message string `json:"message"`
}

// grafanaAlert is one alert of a Grafana notification. Grafana also sends
// embeddedImage, a screenshot as base64 data for e-mail; it is left out,
// as a link to the image (imageURL) serves Jira and costs no storage.
type grafanaAlert struct {
	amAlert
	SilenceURL   string             `json:"silenceURL"`
	DashboardURL string             `json:"dashboardURL"`
	PanelURL     string             `json:"panelURL"`
	ImageURL     string             `json:"imageURL"`
	Values       map[string]float64 `json:"values"`
	ValueString  string             `json:"valueString"`
	OrgID        *int64             `json:"orgId"`
}

// maxGrafanaMessage bounds the group's message kept with each alert. The
// message is the whole group rendered (Grafana's default lists every alert
// with its labels and annotations), repeated on every alert of the group:
// whole, a group of thousands would come to gigabytes. Each alert's own
// text is in its labels and annotations anyway.
const maxGrafanaMessage = MaxTitleLen

// Grafana parses a notification from Grafana's webhook contact point
// (version "1"). Alerts become alerts exactly as Alertmanager's do, their
// identity the fingerprint; what Grafana adds (links to the dashboard, the
// panel and a silence, the query values, the organisation, the group's
// title, state and message) goes into alertContext, from where it reaches
// the Jira issue.
func Grafana(body []byte, now time.Time) (*Notification, error) {
	return parseNotification(body, now, grafanaFormat)
}

// check names the first of the group's Grafana fields that alertbridge
// cannot store.
func (m *grafanaMessage) check() error {
	return checkTexts("", []namedText{{"title", m.Title}, {"state", m.State}, {"message", m.Message}})
}

// context is what a Grafana alert adds to alertContext: its own fields and
// the group's, left out when empty so that an alert without a dashboard
// shows no empty link.
func (m *grafanaMessage) context(a *grafanaAlert, path string) (map[string]any, error) {
	err := checkTexts(path, []namedText{{"silenceURL", a.SilenceURL}, {"dashboardURL", a.DashboardURL},
		{"panelURL", a.PanelURL}, {"imageURL", a.ImageURL}, {"valueString", a.ValueString}})
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(a.Values)) {
		if err := alert.CheckText(k); err != nil {
			return nil, fieldErr(path+".values", "the key %s %v", strconv.Quote(k), err)
		}
	}
	out := map[string]any{}
	for k, v := range map[string]string{
		"silenceURL": a.SilenceURL, "dashboardURL": a.DashboardURL, "panelURL": a.PanelURL,
		"imageURL": a.ImageURL, "valueString": a.ValueString,
		"title": m.Title, "state": m.State, "message": truncate(m.Message, maxGrafanaMessage),
	} {
		if v != "" {
			out[k] = v
		}
	}
	if len(a.Values) > 0 {
		out["values"] = a.Values
	}
	// Grafana sets an alert's own orgId from its rule; the contact
	// point's stands in where a version sends none.
	if org := firstSet(a.OrgID, m.OrgID); org != nil {
		out["orgId"] = *org
	}
	return out, nil
}

// firstSet returns the first of ps that is set.
func firstSet(ps ...*int64) *int64 {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// unembed drops from a field path the names of the embedded structs that
// encoding/json puts in it ("amMessage.version"): they are Go's, not the
// sender's.
func unembed(err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.Field = strings.Replace(strings.Replace(fe.Field, "amMessage.", "", 1), "amAlert.", "", 1)
	}
	return err
}
