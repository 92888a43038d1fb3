// Command jirabench measures alerts becoming Jira issues end to end: the
// real alertbridge binary on a fresh SQLite database delivers to a Jira
// sandbox running in this process. It reports, as medians over runs:
//
//   - issues/s and p50/p99 from acceptance (the 202) to the issue existing,
//     against a sandbox answering at once and one answering in 200 ms;
//   - Jira requests per new alert;
//   - the server's peak RSS;
//   - at a steady 50 alerts/s, p50/p99 from acceptance to the create
//     request reaching Jira: what the durable queue costs;
//   - after two 5xx on a create, the time from Jira's recovery (its last
//     5xx) to the issue, on a site whose search index lags 1 s, with the
//     production retry schedule and Cloud's default search_lag ceiling.
//
// The destination's request rate and concurrency limits are raised so that
// alertbridge, not the limiter, is measured.
//
//	go run ./internal/cmd/jirabench -runs 3
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"github.com/alertbridge/alertbridge/internal/benchutil"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

type result struct {
	issuesPerSec     float64
	p50, p99         time.Duration
	reqsPerAlert     float64
	peakRSSMiB       float64
	paceP50, paceP99 time.Duration
}

func main() {
	var (
		bin     = flag.String("bin", "", "alertbridge binary (default: build ./cmd/alertbridge)")
		alerts  = flag.Int("alerts", 3000, "alerts per throughput run")
		clients = flag.Int("clients", 32, "concurrent posting clients")
		runs    = flag.Int("runs", 3, "runs; the medians are reported")
		pace    = flag.Duration("pace", 10*time.Second, "length of the 50 alerts/s run")
		latency = flag.Duration("latency", 200*time.Millisecond, "the slow sandbox's answer time")
		recov   = flag.Bool("recovery", true, "measure Jira's recovery → issue after two 5xx on a create")
	)
	flag.Parse()
	log.SetFlags(0)
	if *bin == "" {
		var err error
		if *bin, err = benchutil.Build(); err != nil {
			log.Fatal(err)
		}
	}
	if *recov {
		rec, err := recovery(*bin, max(*runs, 3))
		if err != nil {
			log.Fatalf("recovery: %v", err)
		}
		slices.Sort(rec)
		fmt.Printf("two 5xx on a create, index lag 1s: Jira's recovery → issue %v; median %v, max %v\n\n",
			rec, rec[len(rec)/2], rec[len(rec)-1])
	}
	for _, lat := range []time.Duration{0, *latency} {
		var rs []result
		for i := range *runs {
			r, err := runOnce(*bin, lat, *alerts, *clients, *pace)
			if err != nil {
				log.Fatalf("run %d: %v", i+1, err)
			}
			fmt.Printf("sandbox %v run %d: %6.0f issues/s  accept→issue p50 %7.1f ms p99 %7.1f ms  %.3f requests/alert  peak RSS %5.1f MiB  at 50/s accept→create request p50 %5.1f ms p99 %6.1f ms\n",
				lat, i+1, r.issuesPerSec, benchutil.Ms(r.p50), benchutil.Ms(r.p99), r.reqsPerAlert, r.peakRSSMiB, benchutil.Ms(r.paceP50), benchutil.Ms(r.paceP99))
			rs = append(rs, r)
		}
		fmt.Printf("median of %d runs, sandbox answering in %v: %.0f issues/s, accept→issue p50 %.1f ms p99 %.1f ms, %.3f Jira requests per new alert, peak RSS %.1f MiB; at 50 alerts/s accept→create request p50 %.1f ms p99 %.1f ms\n\n",
			len(rs), lat,
			benchutil.Median(rs, func(r result) float64 { return r.issuesPerSec }),
			benchutil.Median(rs, func(r result) float64 { return benchutil.Ms(r.p50) }), benchutil.Median(rs, func(r result) float64 { return benchutil.Ms(r.p99) }),
			benchutil.Median(rs, func(r result) float64 { return r.reqsPerAlert }), benchutil.Median(rs, func(r result) float64 { return r.peakRSSMiB }),
			benchutil.Median(rs, func(r result) float64 { return benchutil.Ms(r.paceP50) }), benchutil.Median(rs, func(r result) float64 { return benchutil.Ms(r.paceP99) }))
	}
}

// accepted records when each alert was answered 202.
type accepted struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *accepted) set(id string, t time.Time) {
	a.mu.Lock()
	a.at[id] = t
	a.mu.Unlock()
}

func runOnce(bin string, latency time.Duration, n, clients int, pace time.Duration) (result, error) {
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud})
	if err != nil {
		return result{}, err
	}
	defer sb.Close()
	if latency > 0 {
		sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultSlow, Delay: latency})
	}
	dir, err := os.MkdirTemp("", "jirabench-run")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	addr, err := benchutil.FreeAddr()
	if err != nil {
		return result{}, err
	}
	cfg := fmt.Sprintf(`server:
  listen: %s
  ingest_rate_limit: {per_second: 1000000, burst: 1000000}
  api_tokens: [{name: bench, token_env: BENCH_TOKEN}]
storage:
  url: sqlite://%s
destinations:
  - name: sec-jira
    type: jira
    jira: {url: %s, deployment: cloud, email: %s, token_env: JIRA_TOKEN, project: SEC, requests_per_second: 100000, max_concurrency: 200}
`, addr, filepath.Join(dir, "bench.db"), sb.URL(), sandbox.DefaultUser.Email)
	srv, err := benchutil.Serve(bin, dir, addr, cfg, nil, "JIRA_TOKEN="+sandbox.DefaultUser.Token)
	if err != nil {
		return result{}, err
	}
	defer srv.Stop()
	base := srv.Base
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	acc := &accepted{at: map[string]time.Time{}}
	post := func(id string) error {
		body := fmt.Sprintf(`{"id":"Bench.Rule","alertId":%q,"title":"bench %s","severity":"HIGH","type":"RULE",
"description":"An alert sent by jirabench.","tags":["bench"],"logTypes":["Atlassian.Audit"],
"alertContext":{"actor":"admin@example.com","ip":"192.0.2.10","action":"user_logged_in_as_user"}}`, id, id)
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/alerts", strings.NewReader(body))
		status, _, err := benchutil.Do(client, req)
		if err != nil {
			return err
		}
		if status != http.StatusAccepted {
			return fmt.Errorf("post %s: %d", id, status)
		}
		acc.set(id, time.Now())
		return nil
	}

	// Throughput: n alerts as fast as the clients post them.
	start := time.Now()
	if err := benchutil.PostAll(clients, benchutil.IDs("t-", n), func(_ int, id string) error { return post(id) }); err != nil {
		return result{}, err
	}
	if err := waitIssues(sb, n, 5*time.Minute); err != nil {
		return result{}, err
	}
	var lat []time.Duration
	last := start
	for _, is := range sb.Issues() {
		id := strings.TrimPrefix(is.Summary, "[HIGH] bench ")
		if t, ok := acc.at[id]; ok {
			lat = append(lat, is.Created.Sub(t))
			if is.Created.After(last) {
				last = is.Created
			}
		}
	}
	slices.Sort(lat)
	r := result{
		issuesPerSec: float64(n) / last.Sub(start).Seconds(),
		p50:          lat[len(lat)*50/100], p99: lat[len(lat)*99/100],
		reqsPerAlert: float64(len(sb.Requests())) / float64(n),
	}

	// Pace: 50 alerts/s, one at a time, measuring acceptance → the create
	// request's arrival at Jira.
	before := len(sb.Requests())
	tick := time.NewTicker(20 * time.Millisecond)
	var pids []string
	for i := 0; i < int(pace/(20*time.Millisecond)); i++ {
		<-tick.C
		id := fmt.Sprintf("p-%d", i)
		pids = append(pids, id)
		go func() {
			if err := post(id); err != nil {
				log.Print(err)
			}
		}()
	}
	tick.Stop()
	if err := waitIssues(sb, n+len(pids), time.Minute); err != nil {
		return result{}, err
	}
	var plat []time.Duration
	type create struct {
		Fields struct {
			Summary string `json:"summary"`
		} `json:"fields"`
	}
	for _, rq := range sb.Requests()[before:] {
		// A create alone, or the creates a bulk create carries.
		var creates []create
		switch {
		case rq.Method != http.MethodPost:
			continue
		case rq.Path == "/rest/api/3/issue":
			var one create
			if json.Unmarshal(rq.Body, &one) != nil {
				continue
			}
			creates = []create{one}
		case rq.Path == "/rest/api/3/issue/bulk":
			var bulk struct {
				IssueUpdates []create `json:"issueUpdates"`
			}
			if json.Unmarshal(rq.Body, &bulk) != nil {
				continue
			}
			creates = bulk.IssueUpdates
		}
		for _, c := range creates {
			id := strings.TrimPrefix(c.Fields.Summary, "[HIGH] bench ")
			acc.mu.Lock()
			t, ok := acc.at[id]
			acc.mu.Unlock()
			if ok && strings.HasPrefix(id, "p-") {
				plat = append(plat, rq.Time.Sub(t))
			}
		}
	}
	slices.Sort(plat)
	if len(plat) > 0 {
		r.paceP50, r.paceP99 = plat[len(plat)*50/100], plat[len(plat)*99/100]
	}
	if r.peakRSSMiB, err = benchutil.PeakRSS(srv.Pid()); err != nil {
		return result{}, err
	}
	return r, nil
}

func waitIssues(sb *sandbox.Sandbox, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for len(sb.Issues()) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d issues after %v", len(sb.Issues()), n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// recovery measures, n times, how long after Jira's last of two 5xx on a
// create the alert's issue exists. The site's index lags 1 s: a retry after
// a 5xx cannot know whether the create landed, so it searches and waits out
// the site's search lag, which alertbridge has measured by then.
func recovery(bin string, n int) ([]time.Duration, error) {
	const lag = time.Second
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud, IndexLag: lag})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	dir, err := os.MkdirTemp("", "jirabench-recovery")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addr, err := benchutil.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`server:
  listen: %s
  api_tokens: [{name: bench, token_env: BENCH_TOKEN}]
storage:
  url: sqlite://%s
destinations:
  - name: sec-jira
    type: jira
    jira: {url: %s, deployment: cloud, email: %s, token_env: JIRA_TOKEN, project: SEC}
`, addr, filepath.Join(dir, "bench.db"), sb.URL(), sandbox.DefaultUser.Email)
	srv, err := benchutil.Serve(bin, dir, addr, cfg, nil, "JIRA_TOKEN="+sandbox.DefaultUser.Token)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	post := func(id string) error {
		req, _ := http.NewRequest(http.MethodPost, srv.Base+"/api/v1/alerts", strings.NewReader(
			fmt.Sprintf(`{"id":"Bench.Rule","alertId":%q,"title":"bench %s","severity":"HIGH"}`, id, id)))
		status, _, err := benchutil.Do(http.DefaultClient, req)
		if err == nil && status != http.StatusAccepted {
			err = fmt.Errorf("post %s: %d", id, status)
		}
		return err
	}
	// A first issue, and the search lag alertbridge measures with it: a
	// search that arrives once the index shows the issue ends the probe.
	if err := post("warm"); err != nil {
		return nil, err
	}
	if err := waitIssues(sb, 1, time.Minute); err != nil {
		return nil, err
	}
	created := sb.Issues()[0].Created
	deadline := time.Now().Add(time.Minute)
	for !slices.ContainsFunc(sb.Requests(), func(r sandbox.RecordedRequest) bool {
		return strings.HasSuffix(r.Path, "/search/jql") && r.Time.After(created.Add(lag))
	}) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("alertbridge never measured the search lag")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var out []time.Duration
	for i := range n {
		before := len(sb.Requests())
		sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Method: http.MethodPost, PathPrefix: "/rest/api/3/issue", Count: 2})
		if err := post(fmt.Sprintf("r-%d", i)); err != nil {
			return nil, err
		}
		if err := waitIssues(sb, i+2, 5*time.Minute); err != nil {
			return nil, err
		}
		var recovered time.Time
		for _, r := range sb.Requests()[before:] {
			if r.Fault != "" {
				recovered = r.Time
			}
		}
		is := sb.Issues()
		out = append(out, is[len(is)-1].Created.Sub(recovered).Round(10*time.Millisecond))
		sb.ClearFaults()
	}
	return out, nil
}
