// Package pyrules runs Panther-style Python detections on real CPython: a
// pool of python3 worker processes that it starts, feeds events in batches
// and supervises. A rule function that runs past its time limit is stopped;
// a worker over its memory limit (RLIMIT_AS, set in the worker) fails the
// call with MemoryError; a worker that dies or hangs is replaced, the rest of
// its batch is evaluated again on a fresh worker, and the rule that took it
// down is named in an error outcome and left out for the rest of that batch.
// Nothing a rule does stalls the caller or the other rules.
//
// The worker side is worker.py, embedded in the binary. Workers start with an
// empty environment (no secrets of the parent reach rule code) and talk over
// two pipes of their own, so what a rule prints cannot corrupt the protocol.
package pyrules

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed worker.py
var workerSource string

// Defaults for Config's zero values.
const (
	DefaultWorkers     = 2
	DefaultCallTimeout = time.Second
	DefaultMemory      = 1 << 30
)

// Config sets up a Pool.
type Config struct {
	Python      string        // the python3 to run; empty: "python3" on PATH
	Workers     int           // most worker processes at once
	CallTimeout time.Duration // per call of a rule function
	Memory      int64         // bytes of address space per worker (RLIMIT_AS); <0: no limit
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.Memory == 0 {
		c.Memory = DefaultMemory
	}
	return c
}

// ErrNoPython says no python3 could be found to run the rules.
var ErrNoPython = errors.New("python3 not found: detections run on CPython 3 (Debian: apt-get install python3), or set detections.python")

// FindPython resolves the interpreter to run: name if given, else python3
// on PATH, followed to the real executable. A launcher such as a pyenv shim
// would otherwise run in the workers' empty environment and fail, or set one
// of its own.
func FindPython(name string) (string, error) {
	if name == "" {
		name = "python3"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNoPython, err)
	}
	out, err := exec.Command(p, "-I", "-c", "import sys; print(sys.executable, sys.version_info[0])").Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s does not run: %v", ErrNoPython, p, err)
	}
	exe, major, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if major != "3" || exe == "" {
		return "", fmt.Errorf("%w: %s is not Python 3", ErrNoPython, p)
	}
	return exe, nil
}

// Pool is a set of workers that have loaded one Spec. It is safe for
// concurrent use; Close it to stop the workers.
type Pool struct {
	cfg    Config
	python string
	spec   Spec
	report LoadReport
	ruleLT []map[string]bool // by rule index: the log types it reads

	idle  chan *worker
	slots chan struct{} // one token per live worker

	mu      sync.RWMutex // held for reading by calls, for writing by Close
	closed  bool
	liveMu  sync.Mutex
	live    map[*worker]struct{}
	peakRSS int64 // bytes, of workers already gone
}

// Start starts one worker, loads spec into it and returns the pool with what
// loaded. An item whose loading takes the worker down is reported as failed
// and left out, and loading goes on without it.
func Start(ctx context.Context, cfg Config, spec Spec) (*Pool, error) {
	cfg = cfg.withDefaults()
	python, err := FindPython(cfg.Python)
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg: cfg, python: python, spec: spec,
		idle: make(chan *worker, cfg.Workers), slots: make(chan struct{}, cfg.Workers),
		live: map[*worker]struct{}{},
	}
	for _, r := range spec.Rules {
		lt := map[string]bool{}
		for _, t := range r.LogTypes {
			lt[t] = true
		}
		p.ruleLT = append(p.ruleLT, lt)
	}
	crashed := map[[2]int]string{} // kind (0 helper, 1 model, 2 rule) and index
	for attempt := 0; ; attempt++ {
		w, err := p.startWorker()
		if err != nil {
			return nil, err
		}
		rep, where, err := w.load(ctx, p.loadSpec(crashed), p.loadTimeout())
		if err == nil {
			for k, msg := range crashed {
				items := [][]Loaded{rep.Helpers, rep.Models, rep.Rules}[k[0]]
				if k[1] < len(items) {
					items[k[1]] = Loaded{Error: msg}
				}
			}
			p.report = rep
			p.slots <- struct{}{}
			p.idle <- w
			return p, nil
		}
		msg := p.retire(w, err)
		if where == nil || ctx.Err() != nil || attempt > len(spec.Rules)+len(spec.Helpers)+len(spec.Models) {
			return nil, fmt.Errorf("start python rule worker: %s", msg)
		}
		crashed[*where] = "loading it took the worker down: " + msg
	}
}

// loadSpec is the spec with the items that crashed a worker blanked out, so
// indexes stay as they were.
func (p *Pool) loadSpec(crashed map[[2]int]string) *Spec {
	s := p.spec
	s.Helpers, s.Models, s.Rules = slices.Clone(s.Helpers), slices.Clone(s.Models), slices.Clone(s.Rules)
	for k := range crashed {
		switch k[0] {
		case 0:
			s.Helpers[k[1]].Path = ""
		case 1:
			s.Models[k[1]] = Model{ID: s.Models[k[1]].ID}
		case 2:
			s.Rules[k[1]].Path = ""
		}
	}
	p.spec = s
	return &s
}

func (p *Pool) loadTimeout() time.Duration {
	// Every file's top level runs once, each under the call limit.
	n := len(p.spec.Rules) + len(p.spec.Helpers) + len(p.spec.Models)
	return 10*time.Second + time.Duration(n)*p.cfg.CallTimeout
}

// Report says what loaded in the first worker (every worker loads the same).
func (p *Pool) Report() LoadReport { return p.report }

// Close stops every worker, after the calls in progress end.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.liveMu.Lock()
	ws := make([]*worker, 0, len(p.live))
	for w := range p.live {
		ws = append(ws, w)
	}
	p.liveMu.Unlock()
	for _, w := range ws {
		p.retire(w, nil)
	}
	return nil
}

// ErrClosed is what a closed pool's calls fail with.
var ErrClosed = errors.New("python rule pool is closed")

func (p *Pool) acquire(ctx context.Context) (*worker, error) {
	select {
	case w := <-p.idle:
		return w, nil
	default:
	}
	select {
	case w := <-p.idle:
		return w, nil
	case p.slots <- struct{}{}:
		w, err := p.startWorker()
		if err != nil {
			<-p.slots
			return nil, fmt.Errorf("start python rule worker: %w", err)
		}
		if _, _, err := w.load(ctx, &p.spec, p.loadTimeout()); err != nil {
			return nil, fmt.Errorf("start python rule worker: %s", p.retire(w, err)) // retire gives the token back
		}
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Pool) release(w *worker) { p.idle <- w }

// retire stops a worker and says how it ended, for the error it caused.
func (p *Pool) retire(w *worker, cause error) string {
	rss := w.stop()
	p.liveMu.Lock()
	if _, ok := p.live[w]; ok {
		delete(p.live, w)
		p.peakRSS = max(p.peakRSS, rss)
		select {
		case <-p.slots:
		default:
		}
	}
	p.liveMu.Unlock()
	return w.describe(cause)
}

// PeakRSS is the highest resident set size any worker of the pool reached,
// live or gone, in bytes (Linux; 0 elsewhere).
func (p *Pool) PeakRSS() int64 {
	p.liveMu.Lock()
	defer p.liveMu.Unlock()
	peak := p.peakRSS
	for w := range p.live {
		peak = max(peak, w.peakRSS())
	}
	return peak
}

// Eval runs the rules over events, split across workers. It returns, by
// event, the outcomes worth reporting (matches and failures). It fails only
// when ctx ends, the pool is closed, or no worker can be started.
func (p *Pool) Eval(ctx context.Context, events []Event) ([][]Outcome, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrClosed
	}
	out := make([][]Outcome, len(events))
	size := max(32, (len(events)+p.cfg.Workers-1)/p.cfg.Workers)
	if len(events) <= size {
		return out, p.evalChunk(ctx, events, out)
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, len(events)/size+1)
	var mu sync.Mutex
	for lo := 0; lo < len(events); lo += size {
		hi := min(lo+size, len(events))
		wg.Go(func() {
			if err := p.evalChunk(ctx, events[lo:hi], out[lo:hi]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}

// evalChunk evaluates events on one worker at a time. When a worker dies or
// hangs, the events it had not answered go to a fresh worker in careful mode,
// which reports each call before making it; a second death then names the
// rule and function, which get an error and are skipped for the rest.
func (p *Pool) evalChunk(ctx context.Context, events []Event, out [][]Outcome) error {
	var (
		next     int
		careful  bool
		skip     []int
		skipFrom = map[int]int{} // rule -> the event it crashed on
	)
	for attempt := 0; next < len(events); attempt++ {
		w, err := p.acquire(ctx)
		if err != nil {
			return err
		}
		done, where, err := w.eval(ctx, events[next:], careful, skip, p.watchdog(careful), out[next:])
		if err == nil {
			p.release(w)
			break
		}
		msg := p.retire(w, err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		next += done
		if careful && where != nil && where.event == 0 && !slices.Contains(skip, where.rule) {
			out[next] = append(out[next], Outcome{Rule: where.rule, Errors: []FuncError{{Function: where.fn, Message: msg}}})
			skip = append(skip, where.rule)
			skipFrom[where.rule] = next
		}
		careful = true
		if attempt > len(p.spec.Rules)+2 {
			return fmt.Errorf("python rule workers keep failing: %s", msg)
		}
	}
	// A rule left out lost the rest of the batch: say so on each event, so
	// the gap shows rather than being silent (the error alerts deduplicate).
	for rule, from := range skipFrom {
		for i := from + 1; i < len(events); i++ {
			if p.ruleLT[rule][events[i].LogType] {
				out[i] = append(out[i], Outcome{Rule: rule, Errors: []FuncError{{Function: "rule",
					Message: "not evaluated: this rule took its worker down earlier in the batch"}}})
			}
		}
	}
	return nil
}

// watchdog is how long a worker may go without a word before it is taken
// to be stuck where Python's own timer cannot reach (in C code, or in a rule
// that swallows the timeout). In careful mode every call is announced, so the
// bound is one call's; otherwise it is a whole event's, generously.
func (p *Pool) watchdog(careful bool) time.Duration {
	if careful {
		return p.cfg.CallTimeout + time.Second
	}
	return 5*p.cfg.CallTimeout + time.Second
}

// Test runs one rule over one test event with its mocks, in a worker,
// and returns what it did. A worker that dies is replaced, and the test's
// outcome says so.
func (p *Pool) Test(ctx context.Context, rule int, logType string, log map[string]any, mocks []Mock) (Outcome, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return Outcome{}, ErrClosed
	}
	w, err := p.acquire(ctx)
	if err != nil {
		return Outcome{}, err
	}
	req := testRequest{Op: "test", Rule: rule, LogType: logType, Log: log, Mocks: mocks}
	var o Outcome
	err = w.roundTrip(ctx, req, 10*p.cfg.CallTimeout+2*time.Second, func(a *answer) bool {
		o = a.Outcome
		return true
	})
	if err != nil {
		msg := p.retire(w, err)
		if ctx.Err() != nil {
			return Outcome{}, ctx.Err()
		}
		return Outcome{Rule: rule, Errors: []FuncError{{Function: "rule", Message: msg}}}, nil
	}
	p.release(w)
	return o, nil
}

// Env returns a worker's environment, for tests of what rules can see.
func (p *Pool) Env(ctx context.Context) (map[string]string, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	w, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	var env map[string]string
	err = w.roundTrip(ctx, map[string]string{"op": "env"}, 10*time.Second, func(a *answer) bool {
		env = a.Env
		return true
	})
	if err != nil {
		return nil, errors.New(p.retire(w, err))
	}
	p.release(w)
	return env, nil
}

// encodeEvent is how a caller turns a decoded event into the wire form.
func EncodeEvent(logType string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode event: %w", err)
	}
	return Event{LogType: logType, Data: raw}, nil
}
