package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// A storm of alerts would cost one create each, and Jira's rate limit, not
// alertbridge, would bound how fast it drains. Creates that wait for the
// site at the same moment therefore go out together, as one bulk create
// of up to MaxBulk, the way a group commit shares one flush: nothing waits
// on purpose. A create on a quiet site finds no one queued and is sent at
// once, alone, as a plain create; the creates that arrive while requests
// wait for the site's pace or a free slot join the next request.
//
// Each create keeps its own fate: a bulk element Jira refused comes back
// as that element's error, and a bulk whose answer was lost is an unknown
// outcome for each of its elements, as for a single create.

// pendingCreate is one create waiting to be sent.
type pendingCreate struct {
	body     createBody
	taken    bool          // a request carries it
	promoted bool          // handed a sender's place it has not taken up yet
	promote  chan struct{} // wakes it when promoted (buffered: one signal)
	done     chan struct{} // closed once ref or err is set
	ref      *IssueRef
	err      error
}

// coalescer queues one client's creates and keeps at most senders of
// them on their way through the site.
type coalescer struct {
	mu      sync.Mutex
	queue   []*pendingCreate // not yet taken, in arrival order
	senders int
	max     int
}

// CreateIssueBatched creates one issue, as CreateIssue does, but shares a
// bulk create with the other creates of this client that wait for the site
// at the same time (when Config.Bulk is set; otherwise it is CreateIssue).
// The error is this issue's own: Jira's error for its element, or the
// request's when the request as a whole failed or its answer was lost.
func (c *Client) CreateIssueBatched(ctx context.Context, fields map[string]any, properties map[string]any) (*IssueRef, error) {
	if c.batch == nil {
		return c.CreateIssue(ctx, fields, properties)
	}
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	pc := &pendingCreate{body: IssueCreate{Fields: fields, Properties: properties}.body(),
		promote: make(chan struct{}, 1), done: make(chan struct{})}
	b := c.batch
	b.mu.Lock()
	b.queue = append(b.queue, pc)
	send := b.senders < b.max
	if send {
		b.senders++
	}
	b.mu.Unlock()
	for {
		if send {
			c.sendQueued(ctx, p, d, pc)
			send = false
		}
		select {
		case <-pc.done:
			b.mu.Lock()
			b.decline(pc)
			b.mu.Unlock()
			return pc.result()
		case <-pc.promote:
			b.mu.Lock()
			send, pc.promoted = pc.promoted, false
			b.mu.Unlock()
		case <-ctx.Done():
			b.mu.Lock()
			b.decline(pc)
			if !pc.taken {
				b.remove(pc)
				b.mu.Unlock()
				return nil, fmt.Errorf("jira: create issue: waiting for the site: %w", ctx.Err())
			}
			b.mu.Unlock()
			// A request carries it: its outcome comes with that
			// request's answer, bounded by the client's timeout.
			<-pc.done
			return pc.result()
		}
	}
}

func (pc *pendingCreate) result() (*IssueRef, error) {
	if pc.err == nil && (pc.ref == nil || pc.ref.Key == "") {
		// Jira answered 2xx without naming the issue: it may exist.
		return nil, fmt.Errorf("jira: create issue: the answer names no issue")
	}
	return pc.ref, pc.err
}

func (b *coalescer) remove(pc *pendingCreate) {
	for i, q := range b.queue {
		if q == pc {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return
		}
	}
}

// sendQueued sends requests for the queue, as one of its senders, until
// own is on its way (or done), then hands its place to a waiting create.
func (c *Client) sendQueued(ctx context.Context, prefix string, d Deployment, own *pendingCreate) {
	b := c.batch
	for {
		var (
			batch []*pendingCreate
			sent  call // what prepare made of the request (do has its own copy)
		)
		cl := call{kind: KindCreate, method: http.MethodPost, dep: d, detach: true}
		cl.prepare = func(cl *call) bool {
			b.mu.Lock()
			n := min(len(b.queue), MaxBulk)
			batch = append(batch, b.queue[:n]...)
			b.queue = append(b.queue[:0:0], b.queue[n:]...)
			for _, q := range batch {
				q.taken = true
			}
			b.mu.Unlock()
			switch len(batch) {
			case 0:
				return false
			case 1:
				cl.path, cl.in, cl.out = prefix+"/issue", batch[0].body, new(IssueRef)
			default:
				in := struct {
					IssueUpdates []createBody `json:"issueUpdates"`
				}{}
				for _, q := range batch {
					in.IssueUpdates = append(in.IssueUpdates, q.body)
				}
				cl.kind, cl.path, cl.in, cl.out = KindBulkCreate, prefix+"/issue/bulk", in, new(bulkAnswer)
			}
			cl.project = projectKey(batch[0].body.Fields)
			sent = *cl
			return true
		}
		err := c.do(ctx, cl)
		switch {
		case len(batch) == 1:
			if err != nil {
				batch[0].err = err
			} else {
				batch[0].ref = sent.outRef()
			}
		case len(batch) > 1:
			res, berr := c.bulkOutcome(sent, err, len(batch))
			for i, q := range batch {
				if berr != nil {
					q.err = berr
				} else {
					q.ref, q.err = res[i].Ref, res[i].Err
				}
			}
		}
		for _, q := range batch {
			close(q.done)
		}
		b.mu.Lock()
		if len(batch) == 0 && err != nil && !own.taken {
			// The site did not let us through (our context ended): own
			// fails, and the queue needs another sender.
			b.remove(own)
			own.err = err
			close(own.done)
		}
		if !own.taken && len(batch) > 0 {
			b.mu.Unlock()
			continue // own is still queued: send the next request
		}
		b.handOn()
		b.mu.Unlock()
		return
	}
}

// handOn gives up a sender's place, to the first queued create not
// already promoted, if there is one. Call with b.mu held.
func (b *coalescer) handOn() {
	b.senders--
	if b.senders >= b.max {
		return
	}
	for _, q := range b.queue {
		if !q.promoted {
			b.senders++
			q.promoted = true
			select {
			case q.promote <- struct{}{}:
			default: // a wake-up is already on its way
			}
			return
		}
	}
}

// decline passes on a sender's place pc was handed but will not take up,
// as it is leaving. Call with b.mu held.
func (b *coalescer) decline(pc *pendingCreate) {
	if pc.promoted {
		pc.promoted = false
		b.handOn()
	}
}

// outRef is the issue a single create's answer names.
func (cl *call) outRef() *IssueRef {
	ref, _ := cl.out.(*IssueRef)
	return ref
}

// bulkOutcome reads a bulk create's outcome: each element's result, or the
// error that befell the request as a whole.
func (c *Client) bulkOutcome(cl call, err error, n int) ([]BulkResult, error) {
	var ans bulkAnswer
	var je *Error
	switch {
	case errors.As(err, &je) && je.Status == http.StatusBadRequest && je.bulk != nil:
		// Jira answers 400 when every element failed, with the same body
		// listing each element's error.
		ans = *je.bulk
	case err != nil:
		return nil, err
	default:
		ans = *cl.out.(*bulkAnswer)
	}
	return bulkResults(cl, ans, n)
}
