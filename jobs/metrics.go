package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// The states a job waits or runs in, as the jobs gauge reports them.
var gaugedStates = []string{"available", "scheduled", "retryable", "running"}

// ScrapeTimeout bounds the query behind one scrape of the jobs collector:
// a busy database makes the scrape fail, not hang.
const ScrapeTimeout = 2 * time.Second

// The one query per scrape: every kind and state in one pass over the
// state index, with the age of the oldest job of each, measured on the
// database's clock, which is the one that wrote created_at. SQLite keeps
// River's times as text in one format, which julianday reads.
const (
	jobsQuerySQLite = `SELECT kind, state, COUNT(*), (julianday('now') - julianday(MIN(created_at))) * 86400.0
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY kind, state`
	jobsQueryPostgres = `SELECT kind, state::text, COUNT(*), EXTRACT(EPOCH FROM now() - MIN(created_at))::float8
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY kind, state`
)

// Collector reports the jobs waiting and running by kind and state, and
// how long the oldest job of each kind that should be running (available
// or retryable) has waited since it was queued, read from the database at
// scrape time, so every replica reports the whole queue. Kinds with a
// worker here are reported at zero when none of their jobs wait, so a
// query over them has a value before the first job.
func (l *Layer) Collector() prometheus.Collector {
	return &jobsCollector{l: l,
		jobs: prometheus.NewDesc("alertbridge_jobs", "Jobs by kind and state (available, scheduled, retryable, running).",
			[]string{"kind", "state"}, nil),
		oldest: prometheus.NewDesc("alertbridge_jobs_oldest_age_seconds",
			"Seconds since the oldest available or retryable job of the kind was queued; 0 when there is none.",
			[]string{"kind"}, nil),
	}
}

type jobsCollector struct {
	l            *Layer
	jobs, oldest *prometheus.Desc
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.jobs; ch <- c.oldest }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	rows, err := c.l.jobCounts(ctx)
	if err != nil {
		err = fmt.Errorf("jobs: count river_job: %w", err)
		ch <- prometheus.NewInvalidMetric(c.jobs, err)
		ch <- prometheus.NewInvalidMetric(c.oldest, err)
		return
	}
	type key struct{ kind, state string }
	counts := map[key]int64{}
	oldest := map[string]float64{}
	for _, k := range c.l.Kinds() {
		oldest[k] = 0
	}
	for _, r := range rows {
		if !slices.Contains(gaugedStates, r.state) {
			continue
		}
		counts[key{r.kind, r.state}] += r.n
		if _, ok := oldest[r.kind]; !ok {
			oldest[r.kind] = 0 // a kind only another replica works
		}
		if (r.state == "available" || r.state == "retryable") && r.age > oldest[r.kind] {
			oldest[r.kind] = r.age
		}
	}
	for kind, age := range oldest {
		for _, s := range gaugedStates {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(counts[key{kind, s}]), kind, s)
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, kind)
	}
}

type jobCount struct {
	kind, state string
	n           int64
	age         float64 // seconds since the oldest was created
}

func (l *Layer) jobCounts(ctx context.Context) ([]jobCount, error) {
	var out []jobCount
	switch db := l.cfg.DB.(type) {
	case *sql.DB:
		rows, err := db.QueryContext(ctx, jobsQuerySQLite)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var r jobCount
			var age sql.NullFloat64
			if err := rows.Scan(&r.kind, &r.state, &r.n, &age); err != nil {
				return nil, err
			}
			r.age = max(age.Float64, 0)
			out = append(out, r)
		}
		return out, rows.Err()
	case *pgxpool.Pool:
		rows, err := db.Query(ctx, jobsQueryPostgres)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var r jobCount
			var age *float64
			if err := rows.Scan(&r.kind, &r.state, &r.n, &age); err != nil {
				return nil, err
			}
			if age != nil {
				r.age = max(*age, 0)
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	return nil, fmt.Errorf("unsupported database handle %T", l.cfg.DB)
}
