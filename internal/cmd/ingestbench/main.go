// Command ingestbench measures alert ingest through the real alertbridge
// binary: alerts accepted per second by concurrent clients, latency
// percentiles, and the server's peak resident memory. Each run starts a
// fresh server on a fresh database; the result is the median of the runs.
//
// As a baseline it measures, in the same run and with the same clients,
// GET /healthz: the HTTP stack's own ceiling, so the ratio shows what
// durable ingest costs on top of it.
//
//	go run ./internal/cmd/ingestbench -storage sqlite -runs 5
//	go run ./internal/cmd/ingestbench -storage postgres -pg-url postgres://...
package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/alertbridge/alertbridge/internal/benchutil"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var debugListen = flag.String("debug-listen", "", "pass --debug-listen to the server, to profile it during a run")

type result struct {
	alertsPerSec   float64
	p50, p99       time.Duration
	peakRSSMiB     float64
	baselinePerSec float64
	errors         int64
}

func main() {
	var (
		bin      = flag.String("bin", "", "alertbridge binary (default: build ./cmd/alertbridge)")
		storage  = flag.String("storage", "sqlite", "sqlite or postgres")
		pgURL    = flag.String("pg-url", os.Getenv("ALERTBRIDGE_TEST_POSTGRES_URL"), "PostgreSQL admin URL (a database is created per run)")
		clients  = flag.Int("clients", 32, "concurrent clients")
		duration = flag.Duration("duration", 10*time.Second, "measured load per run")
		warmup   = flag.Duration("warmup", 2*time.Second, "unmeasured load before each run")
		runs     = flag.Int("runs", 5, "runs; the medians are reported")
		dests    = flag.Int("destinations", 1, "webhook destinations every alert is delivered to (a local sink)")
	)
	flag.Parse()
	log.SetFlags(0)
	if *bin == "" {
		var err error
		if *bin, err = benchutil.Build(); err != nil {
			log.Fatal(err)
		}
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()

	var rs []result
	for i := range *runs {
		r, err := runOnce(*bin, *storage, *pgURL, sink.URL, *clients, *dests, *warmup, *duration)
		if err != nil {
			log.Fatalf("run %d: %v", i+1, err)
		}
		fmt.Printf("run %d: %8.0f alerts/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %5.1f MiB  baseline /healthz %8.0f req/s  ratio %.3f  errors %d\n",
			i+1, r.alertsPerSec, benchutil.Ms(r.p50), benchutil.Ms(r.p99), r.peakRSSMiB, r.baselinePerSec, r.alertsPerSec/r.baselinePerSec, r.errors)
		rs = append(rs, r)
	}
	m := result{
		alertsPerSec:   benchutil.Median(rs, func(r result) float64 { return r.alertsPerSec }),
		p50:            time.Duration(benchutil.Median(rs, func(r result) float64 { return float64(r.p50) })),
		p99:            time.Duration(benchutil.Median(rs, func(r result) float64 { return float64(r.p99) })),
		peakRSSMiB:     benchutil.Median(rs, func(r result) float64 { return r.peakRSSMiB }),
		baselinePerSec: benchutil.Median(rs, func(r result) float64 { return r.baselinePerSec }),
	}
	fmt.Printf("\nmedian of %d runs, %s, %d clients, %d destination(s):\n", len(rs), *storage, *clients, *dests)
	fmt.Printf("  ingest     %8.0f alerts/s  p50 %.2f ms  p99 %.2f ms  peak RSS %.1f MiB\n", m.alertsPerSec, benchutil.Ms(m.p50), benchutil.Ms(m.p99), m.peakRSSMiB)
	fmt.Printf("  baseline   %8.0f req/s (GET /healthz)  ingest/baseline %.3f\n", m.baselinePerSec, m.alertsPerSec/m.baselinePerSec)
	// Each run's ratio is of two measurements seconds apart, so the
	// median of those is the steadier figure when other work shares the
	// machine and moves both medians.
	fmt.Printf("  median of the runs' own ingest/baseline %.3f\n", benchutil.Median(rs, func(r result) float64 { return r.alertsPerSec / r.baselinePerSec }))
}

func runOnce(bin, storage, pgURL, sinkURL string, clients, dests int, warmup, duration time.Duration) (result, error) {
	dir, err := os.MkdirTemp("", "ingestbench-run")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	storeURL := "sqlite://" + filepath.Join(dir, "bench.db")
	if storage == "postgres" {
		if storeURL, err = benchutil.FreshDatabase(pgURL); err != nil {
			return result{}, err
		}
	}
	addr, err := benchutil.FreeAddr()
	if err != nil {
		return result{}, err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "server:\n  listen: %s\n  ingest_rate_limit: {per_second: 1000000, burst: 1000000}\n  api_tokens: [{name: bench, token_env: BENCH_TOKEN}]\nstorage:\n  url: %s\ndestinations:\n", addr, storeURL)
	for i := range dests {
		fmt.Fprintf(&cfg, "  - {name: sink%d, type: webhook, webhook: {url: %s}}\n", i, sinkURL)
	}
	if dests == 0 {
		cfg.WriteString("  []\n")
	}
	var args []string
	if *debugListen != "" {
		args = append(args, "--debug-listen", *debugListen)
	}
	srv, err := benchutil.Serve(bin, dir, addr, cfg.String(), args)
	if err != nil {
		return result{}, err
	}
	defer srv.Stop()
	base := srv.Base

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	var seq atomic.Int64
	post := func(ctx context.Context) (time.Duration, bool) {
		id := seq.Add(1)
		body := fmt.Sprintf(`{"id":"Bench.Rule","alertId":"bench-%d","title":"Benchmark alert %d","severity":"HIGH","type":"RULE",
"description":"An alert sent by ingestbench.","link":"https://example.com/alerts/%d","tags":["bench","ingest"],
"logTypes":["Atlassian.Audit"],"alertContext":{"actor":"admin@example.com","ip":"192.0.2.10","event_id":"%d","action":"user_logged_in_as_user"}}`, id, id, id, id)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/alerts", strings.NewReader(body))
		status, took, err := benchutil.Do(client, req)
		return took, err == nil && status == http.StatusAccepted
	}
	health := func(ctx context.Context) (time.Duration, bool) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		status, took, err := benchutil.Do(client, req)
		return took, err == nil && status == http.StatusOK
	}

	load(post, clients, warmup)
	lat, errs := load(post, clients, duration)
	rss, err := benchutil.PeakRSS(srv.Pid())
	if err != nil {
		return result{}, err
	}
	baseLat, _ := load(health, clients, duration/2)
	slices.Sort(lat)
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no alert accepted\n%s", srv.Logs())
	}
	return result{
		alertsPerSec:   float64(len(lat)) / duration.Seconds(),
		p50:            lat[len(lat)*50/100],
		p99:            lat[len(lat)*99/100],
		peakRSSMiB:     rss,
		baselinePerSec: float64(len(baseLat)) / (duration / 2).Seconds(),
		errors:         errs,
	}, nil
}

// load runs op from n clients for d and returns the latencies of the
// successful calls and the number of failed ones.
func load(op func(context.Context) (time.Duration, bool), n int, d time.Duration) ([]time.Duration, int64) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs atomic.Int64
		wg   sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				lat, ok := op(ctx)
				switch {
				case ok:
					mine = append(mine, lat)
				case ctx.Err() == nil:
					errs.Add(1)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, errs.Load()
}
