package sandbox

import (
	"net/http"
)

// Sandbox is an in-memory Jira; it is an http.Handler.
type Sandbox struct {
	opts Options
}

// New returns a Sandbox for opts.
func New(opts Options) *Sandbox { return &Sandbox{opts: opts} }

// Start serves a new Sandbox on a random local port.
func Start(opts Options) (*Sandbox, error) { return New(opts), nil }

// URL is the base URL of a started Sandbox.
func (s *Sandbox) URL() string { return s.opts.BaseURL }

// Close stops a started Sandbox and its webhook sender.
func (s *Sandbox) Close() error { return nil }

func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

// Issues returns copies of the stored issues in creation order.
func (s *Sandbox) Issues() []StoredIssue { return nil }

// Requests returns the requests received so far.
func (s *Sandbox) Requests() []RecordedRequest { return nil }

// Fail adds a fault.
func (s *Sandbox) Fail(f FaultSpec) {}

// ClearFaults removes every fault.
func (s *Sandbox) ClearFaults() {}

// Webhooks returns the webhooks sent so far.
func (s *Sandbox) Webhooks() []WebhookDelivery { return nil }
