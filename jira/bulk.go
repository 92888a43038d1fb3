package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

// MaxBulk is the most issues one bulk create may carry: Jira's own limit
// (POST /rest/api/{2,3}/issue/bulk "creates up to 50 issues").
const MaxBulk = 50

// IssueCreate is one issue to create: its fields in the deployment's
// representation and the issue properties set with it.
type IssueCreate struct {
	Fields     map[string]any
	Properties map[string]any
}

// createBody is the JSON of one create, alone or as a bulk element.
type createBody struct {
	Fields     map[string]any   `json:"fields"`
	Properties []entityProperty `json:"properties,omitempty"`
}

func (ic IssueCreate) body() createBody {
	b := createBody{Fields: ic.Fields}
	for _, k := range sortedAnyKeys(ic.Properties) {
		b.Properties = append(b.Properties, entityProperty{Key: k, Value: ic.Properties[k]})
	}
	return b
}

// BulkResult is what became of one element of a bulk create: the issue it
// made, or Jira's error for that element alone (an *Error with the
// element's own status, messages and hint).
type BulkResult struct {
	Ref *IssueRef
	Err error
}

// bulkAnswer is Jira's answer to a bulk create, on Cloud (CreatedIssues)
// and Data Center (IssuesCreateResponse) alike.
type bulkAnswer struct {
	Issues []IssueRef `json:"issues"`
	Errors []struct {
		Status              int       `json:"status"`
		FailedElementNumber int       `json:"failedElementNumber"`
		ElementErrors       errorBody `json:"elementErrors"`
	} `json:"errors"`
}

// CreateIssues creates up to MaxBulk issues in one request. The result has
// one entry per element, in order. An error means the request as a whole
// failed, and says nothing about any element: when it is not a clear
// refusal (a 4xx without element errors), each element may have been
// created, as with a single create whose answer was lost.
func (c *Client) CreateIssues(ctx context.Context, creates []IssueCreate) ([]BulkResult, error) {
	if len(creates) == 0 || len(creates) > MaxBulk {
		return nil, fmt.Errorf("jira: bulk create of %d issues: want 1 to %d", len(creates), MaxBulk)
	}
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	in := struct {
		IssueUpdates []createBody `json:"issueUpdates"`
	}{}
	for _, ic := range creates {
		in.IssueUpdates = append(in.IssueUpdates, ic.body())
	}
	cl := call{kind: KindBulkCreate, method: http.MethodPost, path: p + "/issue/bulk", in: in, out: new(bulkAnswer), project: projectKey(creates[0].Fields), dep: d}
	return c.bulkOutcome(cl, c.do(ctx, cl), len(creates))
}

// bulkResults pairs Jira's answer with the elements sent. Jira lists the
// issues it made in the order of the elements that succeeded, and an
// error per failed element by its number; an answer that does not add up
// cannot be paired and is an error (each element uncertain).
func bulkResults(cl call, ans bulkAnswer, n int) ([]BulkResult, error) {
	out := make([]BulkResult, n)
	failed := map[int]bool{}
	for _, e := range ans.Errors {
		i := e.FailedElementNumber
		if i < 0 || i >= n || failed[i] {
			return nil, fmt.Errorf("jira: %s %s: the answer names element %d of %d", cl.method, cl.path, i, n)
		}
		failed[i] = true
		status := e.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		je := &Error{Status: status, Method: cl.method, Path: cl.path + "#" + strconv.Itoa(i),
			Messages: e.ElementErrors.ErrorMessages, Fields: e.ElementErrors.Errors}
		if len(je.Fields) == 0 {
			je.Fields = nil
		}
		je.Hint = hint(reqInfo{method: cl.method, path: cl.path, project: cl.project, deployment: cl.dep}, je)
		out[i].Err = je
	}
	if len(ans.Issues) != n-len(failed) {
		return nil, fmt.Errorf("jira: %s %s: %d issues and %d errors for %d elements", cl.method, cl.path, len(ans.Issues), len(failed), n)
	}
	next := 0
	for i := range out {
		if failed[i] {
			continue
		}
		ref := ans.Issues[next]
		out[i].Ref = &ref
		next++
	}
	return out, nil
}

// parseBulkError reads the element errors a 400 to a bulk create carries.
func parseBulkError(body []byte) *bulkAnswer {
	var ans bulkAnswer
	if json.Unmarshal(bytes.TrimSpace(body), &ans) != nil || len(ans.Errors) == 0 {
		return nil
	}
	sort.SliceStable(ans.Errors, func(i, j int) bool {
		return ans.Errors[i].FailedElementNumber < ans.Errors[j].FailedElementNumber
	})
	return &ans
}
