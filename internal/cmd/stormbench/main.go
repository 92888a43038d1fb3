// Command stormbench measures how an alert storm drains into Jira when
// Jira's rate limit, not alertbridge, is the bound: N alerts posted as fast
// as the clients go to the real binary, against a Jira sandbox (in this
// process) that admits -jira-rate requests a second per site and answers
// 429 with Retry-After beyond that. It runs on SQLite (one process) and on
// replicas sharing PostgreSQL, each with bulk creates on and, as the
// same-run baseline, off, and prints for each:
//
//   - the time from the first post until the last issue exists;
//
//   - Jira requests per alert (every REST request the sandbox received);
//
//   - issues created, and alerts with exactly one issue (both must be N);
//
//   - 429s answered, and requests that arrived inside a Retry-After window
//     the sandbox had announced (must be 0).
//
//     go run ./internal/cmd/stormbench -pg-url postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//     go run ./internal/cmd/stormbench -storage sqlite -baseline-alerts 1000
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/internal/benchutil"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

type result struct {
	lastIssue    time.Duration
	requests     int
	alerts       int
	issues       int
	exactlyOne   int
	limited      int // 429s answered
	inWindow     int // requests that arrived inside an announced window
	bulkRequests int
}

func (r result) reqsPerAlert() float64 { return float64(r.requests) / float64(r.alerts) }

func main() {
	var (
		bin      = flag.String("bin", "", "alertbridge binary (default: build ./cmd/alertbridge)")
		storage  = flag.String("storage", "sqlite,postgres", "comma-separated: sqlite, postgres")
		pgURL    = flag.String("pg-url", os.Getenv("ALERTBRIDGE_TEST_POSTGRES_URL"), "PostgreSQL admin URL (a database is created per run)")
		replicas = flag.Int("replicas", 2, "replicas sharing PostgreSQL")
		alerts   = flag.Int("alerts", 5000, "alerts in the storm")
		baseline = flag.Int("baseline-alerts", 5000, "alerts in the same storm with bulk creates off (0: skip it)")
		clients  = flag.Int("clients", 32, "concurrent posting clients, spread over the replicas")
		jiraRate = flag.Float64("jira-rate", 10, "requests a second the Jira sandbox admits per site")
		siteRate = flag.Float64("rate", 0, "alertbridge's requests_per_second (0: its default)")
		runs     = flag.Int("runs", 1, "runs of each; the medians are reported")
		deadline = flag.Duration("deadline", 15*time.Minute, "longest a run may take to drain")
		indexLag = flag.Duration("index-lag", time.Second, "the sandbox's search index lag")
	)
	flag.Parse()
	storeList := strings.Split(*storage, ",")
	log.SetFlags(0)
	if *bin == "" {
		var err error
		if *bin, err = benchutil.Build(); err != nil {
			log.Fatal(err)
		}
	}
	for _, st := range storeList {
		n := 1
		if st == "postgres" {
			n = *replicas
		}
		var on, off []result
		for i := range *runs {
			r, err := runOnce(*bin, st, *pgURL, n, *alerts, *clients, *jiraRate, *siteRate, true, *indexLag, *deadline)
			if err != nil {
				log.Fatalf("%s bulk run %d: %v", st, i+1, err)
			}
			report(st, n, "bulk on ", i+1, r)
			on = append(on, r)
			if *baseline > 0 {
				r, err := runOnce(*bin, st, *pgURL, n, *baseline, *clients, *jiraRate, *siteRate, false, *indexLag, *deadline)
				if err != nil {
					log.Fatalf("%s baseline run %d: %v", st, i+1, err)
				}
				report(st, n, "bulk off", i+1, r)
				off = append(off, r)
			}
		}
		med := func(rs []result, f func(result) float64) float64 { return benchutil.Median(rs, f) }
		last := func(r result) float64 { return r.lastIssue.Seconds() }
		perAlert := func(r result) float64 { return r.reqsPerAlert() }
		rate := func(r result) float64 { return float64(r.issues) / r.lastIssue.Seconds() }
		fmt.Printf("median of %d, %s (%d process(es)), %d alerts: last issue after %.1f s, %.4f Jira requests per alert, %.0f issues/s\n",
			len(on), st, n, *alerts, med(on, last), med(on, perAlert), med(on, rate))
		if len(off) > 0 {
			fmt.Printf("  baseline, bulk off, %d alerts: last issue after %.1f s, %.4f requests per alert, %.0f issues/s; bulk drains %.1fx faster with %.1fx fewer requests per alert\n",
				*baseline, med(off, last), med(off, perAlert), med(off, rate), med(on, rate)/med(off, rate), med(off, perAlert)/med(on, perAlert))
		}
		fmt.Println()
	}
}

func report(st string, n int, mode string, run int, r result) {
	fmt.Printf("%s ×%d %s run %d: %d alerts, last issue after %6.2f s, %d Jira requests (%d bulk) = %.4f per alert, %d issues, %d alerts with exactly one, %d 429s, %d requests inside a Retry-After window\n",
		st, n, mode, run, r.alerts, r.lastIssue.Seconds(), r.requests, r.bulkRequests, r.reqsPerAlert(), r.issues, r.exactlyOne, r.limited, r.inWindow)
}

func runOnce(bin, storage, admin string, replicas, n, clients int, jiraRate, siteRate float64, bulk bool, indexLag, deadline time.Duration) (result, error) {
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud, RateLimit: jiraRate, IndexLag: indexLag, NearLimit: true})
	if err != nil {
		return result{}, err
	}
	defer sb.Close()
	dir, err := os.MkdirTemp("", "stormbench-run")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	storageURL := "sqlite://" + filepath.Join(dir, "bench.db")
	if storage == "postgres" {
		if storageURL, err = benchutil.FreshDatabase(admin); err != nil {
			return result{}, err
		}
	}
	rate := ""
	if siteRate > 0 {
		rate = fmt.Sprintf(", requests_per_second: %g", siteRate)
	}
	var srvs []*benchutil.Server
	defer func() {
		for _, s := range srvs {
			s.Stop()
		}
	}()
	for i := range replicas {
		addr, err := benchutil.FreeAddr()
		if err != nil {
			return result{}, err
		}
		cfg := fmt.Sprintf(`server:
  listen: %s
  ingest_rate_limit: {per_second: 1000000, burst: 1000000}
  api_tokens: [{name: bench, token_env: BENCH_TOKEN}]
storage:
  url: %s
destinations:
  - name: sec-jira
    type: jira
    jira: {url: %s, deployment: cloud, email: %s, token_env: JIRA_TOKEN, project: SEC, bulk_create: %t, search_lag: 5s%s}
`, addr, storageURL, sb.URL(), sandbox.DefaultUser.Email, bulk, rate)
		rdir := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			return result{}, err
		}
		srv, err := benchutil.Serve(bin, rdir, addr, cfg, nil, "JIRA_TOKEN="+sandbox.DefaultUser.Token)
		if err != nil {
			return result{}, err
		}
		srvs = append(srvs, srv)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	start := time.Now()
	err = benchutil.PostAll(clients, benchutil.IDs("storm-", n), func(c int, id string) error {
		body := fmt.Sprintf(`{"id":"Storm.Rule","alertId":%q,"title":"storm %s","severity":"HIGH","type":"RULE","description":"An alert of stormbench's storm.","alertContext":{"n":%q}}`, id, id, id)
		req, _ := http.NewRequest(http.MethodPost, srvs[c%len(srvs)].Base+"/api/v1/alerts", strings.NewReader(body))
		status, _, err := benchutil.Do(client, req)
		if err == nil && status != http.StatusAccepted {
			err = fmt.Errorf("post %s: %d", id, status)
		}
		return err
	})
	if err != nil {
		return result{}, err
	}
	end := time.Now().Add(deadline)
	tick := time.Now()
	for len(sb.Issues()) < n {
		if time.Now().After(end) {
			return result{}, fmt.Errorf("%d of %d issues after %s", len(sb.Issues()), n, deadline)
		}
		if time.Since(tick) > 5*time.Second {
			tick = time.Now()
			kinds := map[string]int{}
			for _, q := range sb.Requests() {
				kinds[fmt.Sprintf("%s %s %d", q.Method, q.Path, q.Status)]++
			}
			fmt.Fprintf(os.Stderr, "  … %d issues after %.0f s: %v\n", len(sb.Issues()), time.Since(start).Seconds(), kinds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Settle: anything doubled would show now that every delivery is done.
	if err := waitDelivered(srvs[0].Base, client, n, time.Until(end)); err != nil {
		return result{}, err
	}
	r := result{alerts: n}
	markers := map[string]string{}
	for i := range n {
		id := fmt.Sprintf("storm-%d", i)
		markers[jiradest.Marker("sec-jira", id)] = id
	}
	per := map[string]int{}
	var last time.Time
	for _, is := range sb.Issues() {
		r.issues++
		if is.Created.After(last) {
			last = is.Created
		}
		for _, l := range is.Labels {
			if id, ok := markers[l]; ok {
				per[id]++
			}
		}
	}
	for _, c := range per {
		if c == 1 {
			r.exactlyOne++
		}
	}
	r.lastIssue = last.Sub(start)
	for _, q := range sb.Requests() {
		if !strings.HasPrefix(q.Path, "/rest/") {
			continue
		}
		r.requests++
		if strings.HasSuffix(q.Path, "/issue/bulk") {
			r.bulkRequests++
		}
		if q.Status == http.StatusTooManyRequests {
			r.limited++
		}
	}
	r.inWindow = len(sb.RetryAfterViolations(0))
	return r, nil
}

// waitDelivered waits until the replicas report no delivery pending or
// retrying, through the queue-depth gauge every replica reads from the
// database.
func waitDelivered(base string, c *http.Client, n int, d time.Duration) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer bench")
		resp, err := c.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if queueEmpty(string(b)) {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("deliveries of %d alerts still pending after %s", n, d)
}

// queueEmpty reads alertbridge_queue_depth's pending and retrying series.
func queueEmpty(metrics string) bool {
	seen := 0
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "alertbridge_queue_depth{") {
			continue
		}
		seen++
		if !strings.HasSuffix(strings.TrimSpace(line), " 0") {
			return false
		}
	}
	return seen > 0
}
