package jira

import (
	"net/http"
	"time"
)

// Observer hears what a client's requests met, so that cmd can count them
// (this package keeps no metrics library). Its methods run on the
// request's goroutine, before the call returns: they must be quick and
// must not block.
type Observer interface {
	// Request reports one request that was sent: the site it went to (as
	// SiteKey names it), what it was for, Jira's status (0 when no answer
	// came: a transport error, a timeout, a cancelled context) and how
	// long it took. Time spent waiting at the site's gate is not in took:
	// that is our limits, not Jira being slow.
	Request(site string, kind RequestKind, status int, took time.Duration)
	// RateLimited reports that a 429 closed site for closed more than it
	// already was. opened says the site was open until then, so a new
	// window began; otherwise the 429 lengthened the window already open,
	// and closed is only the part added. Summed, closed is the time the
	// site spent closed.
	RateLimited(site string, opened bool, closed time.Duration)
}

// ReasonObserver is an Observer that also hears why Jira limited a site:
// the RateLimit-Reason header of a 429 (jira-burst-based,
// jira-per-issue-on-write, jira-quota-tenant-based, …; empty when Jira
// gave none).
type ReasonObserver interface {
	RateLimitReason(site, reason string)
}

// RequestKind says what a request was for, a small fixed set so that it
// can label a metric.
type RequestKind string

const (
	KindServerInfo      RequestKind = "server_info"
	KindMyself          RequestKind = "myself"
	KindCreate          RequestKind = "create"
	KindBulkCreate      RequestKind = "bulk_create"
	KindGet             RequestKind = "get"
	KindEdit            RequestKind = "edit"
	KindSearch          RequestKind = "search"
	KindTransitions     RequestKind = "transitions"
	KindTransition      RequestKind = "transition"
	KindComment         RequestKind = "comment"
	KindComments        RequestKind = "comments"
	KindCommentEdit     RequestKind = "comment_edit"
	KindUserSearch      RequestKind = "user_search"
	KindUser            RequestKind = "user"
	KindAssign          RequestKind = "assign"
	KindCreateMeta      RequestKind = "createmeta"
	KindWebhookRegister RequestKind = "webhook_register"
)

// RequestKinds lists every kind a client sends, for initialising metrics.
func RequestKinds() []RequestKind {
	return []RequestKind{KindServerInfo, KindMyself, KindCreate, KindBulkCreate, KindGet, KindEdit, KindSearch,
		KindTransitions, KindTransition, KindComment, KindComments, KindCommentEdit, KindUserSearch,
		KindUser, KindAssign, KindCreateMeta, KindWebhookRegister}
}

// Status classes, as StatusClass names them.
const (
	Class2xx   = "2xx"
	Class4xx   = "4xx" // other than 429
	Class429   = "429"
	Class5xx   = "5xx"
	ClassError = "error" // no answer, or one outside 2xx–5xx
)

// StatusClasses lists every class StatusClass returns.
func StatusClasses() []string { return []string{Class2xx, Class4xx, Class429, Class5xx, ClassError} }

// StatusClass names a request's status for a metric label. 429 has a class
// of its own: it is the answer an operator tunes limits by, and it says
// nothing of the request itself.
func StatusClass(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return Class429
	case status >= 200 && status <= 299:
		return Class2xx
	case status >= 400 && status <= 499:
		return Class4xx
	case status >= 500 && status <= 599:
		return Class5xx
	}
	return ClassError
}

// SiteKey names the Jira site of baseURL: its scheme and host, lower-case,
// with no path and no credentials. Sites shares a Site between the base
// URLs with one key, and observers hear of the site by it.
func SiteKey(baseURL string) string { return siteKey(baseURL) }
