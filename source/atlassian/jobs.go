package atlassian

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/alertbridge/alertbridge/jobs"
)

// Queue is the River queue source polls run on.
const Queue = "sources"

// PollArgs is the durable job that polls one source once.
type PollArgs struct {
	Source string `json:"source"`
}

func (PollArgs) Kind() string { return "atlassian_audit_poll" }

// Jobs runs polls as River jobs. A periodic job per source, enqueued by
// River's elected leader only and unique per source while one is queued or
// running, is what makes exactly one replica poll a source at a time.
type Jobs struct {
	mu      sync.RWMutex
	pollers map[string]*Poller
	metrics *Metrics
}

// NewJobs makes an empty set; pollers are added once the service they
// write through exists.
func NewJobs() *Jobs { return &Jobs{pollers: map[string]*Poller{}} }

// Add makes a poller available to the jobs of its source.
func (j *Jobs) Add(p *Poller) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pollers[p.Name()] = p
}

// SetMetrics makes the polls count in m.
func (j *Jobs) SetMetrics(m *Metrics) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.metrics = m
}

// Register adds the poll worker to the jobs layer.
func (j *Jobs) Register(l *jobs.Layer) { jobs.Add(l, &pollWorker{jobs: j}) }

// Workers is how many polls run at once on one replica.
const Workers = 4

// PeriodicJob schedules a source's polls every interval, the first at start.
func PeriodicJob(source string, every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return PollArgs{Source: source}, &river.InsertOpts{
			Queue: Queue,
			// A failed poll is not retried on River's schedule: the next
			// periodic run resumes from the checkpoint anyway.
			MaxAttempts: 1,
			UniqueOpts: river.UniqueOpts{
				ByArgs: true,
				// Not completed: a finished poll must not block the next.
				ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
					rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled},
			},
		}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	jobs *Jobs
}

func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	w.jobs.mu.RLock()
	p, m := w.jobs.pollers[job.Args.Source], w.jobs.metrics
	w.jobs.mu.RUnlock()
	if p == nil {
		// A job of a source removed from the configuration, or of a
		// replica with another configuration: nothing to do here.
		return nil
	}
	stats, err := p.Poll(ctx)
	// A poll cut short by shutdown is not a failure of the source; what
	// it applied before still counts.
	m.polled(p.Name(), stats, err, errors.Is(ctx.Err(), context.Canceled), p.now())
	if err != nil {
		p.cfg.Logger.Warn("audit-log poll failed; the next poll resumes from the checkpoint", "error", err,
			"pages", stats.Pages, "events", stats.Events)
		return jobs.Outcome(job, fmt.Errorf("poll %s: %w", job.Args.Source, err))
	}
	p.cfg.Logger.Debug("audit-log polled", "pages", stats.Pages, "events", stats.Events,
		"duplicates", stats.Duplicates, "alerts", stats.Raised)
	return nil
}
