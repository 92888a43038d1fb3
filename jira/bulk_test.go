package jira_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

// checkAnswers validates the sandbox's answers to creates against the spec
// too, so that what the client parses is what Jira documents.
func checkAnswers(t *testing.T, d jira.Deployment) func(*sandbox.Options) {
	c := openapicheck.For(t, d)
	return func(o *sandbox.Options) {
		o.ValidateAnswer = func(r *http.Request, status int, h http.Header, body []byte) error {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/issue/bulk") && !strings.HasSuffix(r.URL.Path, "/issue") {
				return nil
			}
			return c.CheckAnswer(r, status, h, body)
		}
	}
}

func createOf(d jira.Deployment, summary, issueType string) jira.IssueCreate {
	prop := any(map[string]any{"marker": summary})
	if d == jira.DeploymentDataCenter {
		prop = `{"marker":"` + summary + `"}`
	}
	return jira.IssueCreate{
		Fields: map[string]any{"project": map[string]any{"key": "SEC"}, "issuetype": map[string]any{"name": issueType},
			"summary": summary, "labels": []string{"m-" + summary}, "description": description(d, "storm")},
		Properties: map[string]any{"alertbridge": prop},
	}
}

func TestBulkCreate(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			sb, c := start(t, d, checkAnswers(t, d))
			ctx := context.Background()
			res, err := c.CreateIssues(ctx, []jira.IssueCreate{
				createOf(d, "one", "Task"), createOf(d, "two", "NoSuchType"), createOf(d, "three", "Bug"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 3 || res[0].Ref == nil || res[2].Ref == nil || res[1].Err == nil {
				t.Fatalf("results %+v", res)
			}
			// The refused element has its own status, Jira's words and the hint.
			e := asError(t, res[1].Err)
			if e.Status != http.StatusBadRequest || e.Fields["issuetype"] == "" || !strings.Contains(e.Hint, "issue type") {
				t.Errorf("element error %+v", e)
			}
			for i, want := range map[int]string{0: "one", 2: "three"} {
				is, ok := sb.Issue(res[i].Ref.Key)
				if !ok || is.Summary != want || string(is.Properties["alertbridge"]) == "" {
					t.Errorf("element %d: %s is %+v", i, res[i].Ref.Key, is)
				}
			}
			// Every element refused: Jira answers 400 with the same list.
			res, err = c.CreateIssues(ctx, []jira.IssueCreate{createOf(d, "x", "NoSuchType"), createOf(d, "y", "NoSuchType")})
			if err != nil || res[0].Err == nil || res[1].Err == nil {
				t.Fatalf("all refused: %+v %v", res, err)
			}
			if _, err := c.CreateIssues(ctx, make([]jira.IssueCreate, jira.MaxBulk+1)); err == nil {
				t.Error("a bulk over Jira's limit was sent")
			}
			if n := len(sb.Issues()); n != 2 {
				t.Errorf("%d issues, want 2", n)
			}
		})
	}
}

// TestBulkAnswerLost: a bulk whose answer never comes is an error for the
// whole request, not a claim about any element (each may exist).
func TestBulkAnswerLost(t *testing.T) {
	sb, c := start(t, jira.DeploymentCloud, nil)
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultStoredServerError, PathPrefix: "/rest/api/3/issue/bulk", Count: 1})
	res, err := c.CreateIssues(context.Background(), []jira.IssueCreate{createOf(jira.DeploymentCloud, "a", "Task"), createOf(jira.DeploymentCloud, "b", "Task")})
	if err == nil || res != nil {
		t.Fatalf("got %+v, %v; want the request's error", res, err)
	}
	if e := asError(t, err); e.Status != http.StatusBadGateway || !e.Temporary() {
		t.Errorf("error %+v", e)
	}
	if len(sb.Issues()) != 2 {
		t.Errorf("the sandbox stored %d issues, want 2 (the fault keeps the effect)", len(sb.Issues()))
	}
}

// TestBatchedCreates: creates that wait for a paced site together go out
// as bulk creates, each issue made once and each caller told its own; a
// create on a quiet site goes at once, alone, as a plain create.
func TestBatchedCreates(t *testing.T) {
	for _, d := range deployments {
		t.Run(string(d), func(t *testing.T) {
			opts := sandbox.Options{Deployment: d, Validate: openapicheck.Validate(t, d)}
			checkAnswers(t, d)(&opts)
			sb, err := sandbox.Start(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			c := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: d, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token,
				Site: jira.NewSite(5, 2), Bulk: true, Senders: 2})
			ctx := context.Background()

			ref, err := c.CreateIssueBatched(ctx, createOf(d, "lone", "Task").Fields, nil)
			if err != nil || ref.Key == "" {
				t.Fatal(ref, err)
			}
			if rs := sb.Requests(); len(rs) != 1 || !strings.HasSuffix(rs[0].Path, "/issue") {
				t.Fatalf("a lone create sent %+v", rs)
			}

			const n = 120
			keys := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					typ := "Task"
					if i == 7 {
						typ = "NoSuchType"
					}
					ic := createOf(d, fmt.Sprintf("s%d", i), typ)
					ref, err := c.CreateIssueBatched(ctx, ic.Fields, ic.Properties)
					if ref != nil {
						keys[i] = ref.Key
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			seen := map[string]bool{}
			for i := range n {
				if i == 7 {
					if e := asError(t, errs[i]); e.Status != http.StatusBadRequest || e.Fields["issuetype"] == "" {
						t.Errorf("the refused create got %v", errs[i])
					}
					continue
				}
				if errs[i] != nil || keys[i] == "" || seen[keys[i]] {
					t.Errorf("create %d: %q %v", i, keys[i], errs[i])
				}
				seen[keys[i]] = true
				if is, ok := sb.Issue(keys[i]); !ok || is.Summary != fmt.Sprintf("s%d", i) {
					t.Errorf("create %d was told %s, which is %+v", i, keys[i], is)
				}
			}
			if got := len(sb.Issues()); got != n {
				t.Errorf("%d issues, want %d", got, n)
			}
			reqs := len(sb.Requests()) - 1
			// At 5 requests a second a create each would take 24 s; shared,
			// the 120 need a handful of requests.
			if reqs > n/10 {
				t.Errorf("%d requests for %d creates", reqs, n)
			}
			for _, r := range sb.Requests() {
				if strings.Count(string(r.Body), `"summary"`) > jira.MaxBulk {
					t.Errorf("a request carried more than %d creates", jira.MaxBulk)
				}
			}
			if errs := sb.ValidationErrors(); len(errs) > 0 {
				t.Errorf("requests break the OpenAPI spec: %s", strings.Join(errs, "\n"))
			}
		})
	}
}

// TestBatchedCreateGivesUp: a create whose caller gives up while it waits
// for the site is not sent, and the queue behind it still drains.
func TestBatchedCreateGivesUp(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	site := jira.NewSite(0, 0)
	site.Block(time.Now().Add(300 * time.Millisecond))
	c := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: jira.DeploymentCloud, User: sandbox.DefaultUser.Email, Token: sandbox.DefaultUser.Token,
		Site: site, Bulk: true, Senders: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.CreateIssueBatched(ctx, createOf(jira.DeploymentCloud, "gone", "Task").Fields, nil); err == nil {
		t.Fatal("a create whose caller gave up succeeded")
	}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.CreateIssueBatched(context.Background(), createOf(jira.DeploymentCloud, fmt.Sprint(i), "Task").Fields, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(sb.Issues()); n != 5 {
		t.Errorf("%d issues, want 5", n)
	}
}
