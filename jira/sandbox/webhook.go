package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alertbridge/alertbridge/internal/hmacsig"
)

// hookSender delivers webhooks one at a time, in the order the changes
// happened, as Jira does per issue, off the request path.
type hookSender struct {
	url, secret string
	client      *http.Client

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []WebhookDelivery
	closed  bool
	sent    []WebhookDelivery
	done    chan struct{}
	pending int
}

func newHookSender(opts Options) *hookSender {
	h := &hookSender{url: opts.WebhookURL, secret: opts.WebhookSecret, client: opts.WebhookClient, done: make(chan struct{})}
	if h.client == nil {
		h.client = &http.Client{Timeout: 10 * time.Second}
	}
	h.cond = sync.NewCond(&h.mu)
	go h.run()
	return h
}

func (h *hookSender) enqueue(event, id string, body []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	d := WebhookDelivery{Event: event, Identifier: id, Body: body}
	if h.secret != "" {
		d.Signature = hmacsig.Sign(h.secret, body)
	}
	h.queue = append(h.queue, d)
	h.pending++
	h.cond.Broadcast()
}

func (h *hookSender) run() {
	defer close(h.done)
	for {
		h.mu.Lock()
		for len(h.queue) == 0 && !h.closed {
			h.cond.Wait()
		}
		if len(h.queue) == 0 {
			h.mu.Unlock()
			return
		}
		d := h.queue[0]
		h.queue = h.queue[1:]
		h.mu.Unlock()

		d.Status, d.Err = h.send(d)

		h.mu.Lock()
		h.sent = append(h.sent, d)
		h.pending--
		h.cond.Broadcast()
		h.mu.Unlock()
	}
}

func (h *hookSender) send(d WebhookDelivery) (int, string) {
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Atlassian Webhook HTTP Client")
	req.Header.Set("X-Atlassian-Webhook-Identifier", d.Identifier)
	if d.Signature != "" {
		req.Header.Set("X-Hub-Signature", d.Signature)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Sprintf("receiver answered %s", resp.Status)
	}
	return resp.StatusCode, ""
}

func (h *hookSender) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		h.mu.Lock()
		h.cond.Broadcast()
		h.mu.Unlock()
	})
	defer stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.pending > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("sandbox: waiting for %d webhooks: %w", h.pending, ctx.Err())
		}
		h.cond.Wait()
	}
	return nil
}

func (h *hookSender) deliveries() []WebhookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]WebhookDelivery(nil), h.sent...)
}

// close sends what is queued, then stops.
func (h *hookSender) close() {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
	<-h.done
}

// changelog turns field changes into Jira's changelog items.
func (s *Sandbox) changelog(changes map[string][2]string) map[string]any {
	var items []map[string]any
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := changes[k]
		if c[0] == c[1] && k != "description" {
			continue
		}
		item := map[string]any{"field": k, "fieldtype": "jira", "fieldId": k, "from": nil, "fromString": c[0], "to": nil, "toString": c[1]}
		if k == "assignee" {
			item["from"], item["to"] = nilIfEmpty(c[0]), nilIfEmpty(c[1])
			item["fromString"], item["toString"] = s.displayName(c[0]), s.displayName(c[1])
			if s.cloud {
				item["tmpFromAccountId"], item["tmpToAccountId"] = nilIfEmpty(c[0]), nilIfEmpty(c[1])
			}
		}
		if strings.HasPrefix(k, "customfield_") {
			item["fieldtype"] = "custom"
		}
		items = append(items, item)
	}
	return s.changeID(items)
}

func (s *Sandbox) changeID(items []map[string]any) map[string]any {
	s.nextChange++
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{"id": strconv.Itoa(s.nextChange), "items": items}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Sandbox) displayName(id string) any {
	if id == "" {
		return nil
	}
	return s.userByID(id).DisplayName
}

// issueEvent builds a jira:issue_* webhook in the v2 representation (wiki
// bodies, v2 self links), as Jira sends even on Cloud. The caller holds s.mu.
func (s *Sandbox) issueEvent(event, typeName string, is *StoredIssue, by *User, changelog map[string]any) []byte {
	if s.hooks == nil {
		return nil
	}
	m := map[string]any{
		"timestamp": time.Now().UnixMilli(), "webhookEvent": event, "issue_event_type_name": typeName,
		"user": s.userJSON(by, 2), "issue": s.issueJSON(is, 2, nil),
	}
	if changelog != nil {
		m["changelog"] = changelog
	}
	b, _ := json.Marshal(m)
	return b
}

// commentEvent builds comment_created / comment_updated. The caller holds
// s.mu.
func (s *Sandbox) commentEvent(event string, is *StoredIssue, c StoredComment) []byte {
	if s.hooks == nil {
		return nil
	}
	m := map[string]any{
		"timestamp": time.Now().UnixMilli(), "webhookEvent": event,
		"comment": s.commentJSON(is, c, 2, false),
		"issue":   s.issueJSON(is, 2, []string{"summary", "status", "issuetype", "project", "priority", "assignee"}),
	}
	b, _ := json.Marshal(m)
	return b
}

// sendHook queues a webhook; called without s.mu so a slow receiver never
// blocks the API.
func (s *Sandbox) sendHook(event string, body []byte) {
	if s.hooks == nil || body == nil {
		return
	}
	s.hooks.enqueue(event, newIdentifier(body), body)
}

// newIdentifier is a stable id per delivery, as X-Atlassian-Webhook-Identifier
// is: retries of one delivery would share it.
func newIdentifier(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:8])
}
