package pyrules

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxLine bounds one answer from a worker. The largest legitimate one is an
// event's outcomes, each alert context at most a few hundred KiB.
const maxLine = 64 << 20

// workerEnv is all of a worker's environment: none of the parent's, so no
// secret alertbridge was given can reach rule code.
var workerEnv = []string{"LC_ALL=C.UTF-8", "TZ=UTC"}

// worker is one python3 process.
type worker struct {
	cmd    *exec.Cmd
	in     *os.File // its fd 3
	enc    *json.Encoder
	lines  chan []byte // from its fd 4; closed when it ends
	exited chan struct{}
	stderr *tail

	mu      sync.Mutex
	waitErr error
	killed  string // why we killed it, if we did
	rss     int64
}

func (p *Pool) startWorker() (*worker, error) {
	cmd := exec.Command(p.python, "-I", "-B", "-c", workerSource,
		strconv.FormatInt(max(p.cfg.Memory, 0), 10), strconv.FormatFloat(p.cfg.CallTimeout.Seconds(), 'f', -1, 64))
	cmd.Env = workerEnv
	cmd.Dir = "/"
	toChild, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, fromChild, err := os.Pipe()
	if err != nil {
		toChild.Close()
		inW.Close()
		return nil, err
	}
	w := &worker{cmd: cmd, in: inW, enc: json.NewEncoder(inW), lines: make(chan []byte, 16),
		exited: make(chan struct{}), stderr: &tail{max: 4096}}
	cmd.ExtraFiles = []*os.File{toChild, fromChild}
	cmd.Stdout = nil // the worker points fd 1 at /dev/null itself
	cmd.Stderr = w.stderr
	err = cmd.Start()
	toChild.Close()
	fromChild.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("run %s: %w", p.python, err)
	}
	go func() {
		defer close(w.lines)
		defer outR.Close()
		r := bufio.NewReaderSize(outR, 64<<10)
		for {
			line, err := readLine(r)
			if err != nil {
				return
			}
			w.lines <- line
		}
	}()
	go func() {
		err := cmd.Wait()
		w.mu.Lock()
		w.waitErr = err
		w.mu.Unlock()
		close(w.exited)
	}()
	p.liveMu.Lock()
	p.live[w] = struct{}{}
	p.liveMu.Unlock()
	return w, nil
}

func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == nil {
			return buf, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if len(buf) > maxLine {
			return nil, fmt.Errorf("answer over %d bytes", maxLine)
		}
	}
}

// errStuck is a worker that said nothing for longer than its watchdog.
var errStuck = errors.New("stuck")

// roundTrip sends req and hands each answer to handle until it returns true.
// Every answer resets the watchdog.
func (w *worker) roundTrip(ctx context.Context, req any, watchdog time.Duration, handle func(*answer) bool) error {
	sent := make(chan error, 1)
	go func() { sent <- w.enc.Encode(req) }() // a big batch may fill the pipe before the worker reads it
	timer := time.NewTimer(watchdog)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-w.lines:
			if !ok {
				return errors.New("worker ended")
			}
			var a answer
			if err := json.Unmarshal(line, &a); err != nil {
				return fmt.Errorf("read worker answer: %w", err)
			}
			if handle(&a) {
				if err := <-sent; err != nil {
					return fmt.Errorf("send to worker: %w", err)
				}
				return nil
			}
			timer.Reset(watchdog)
		case <-timer.C:
			w.setKilled(fmt.Sprintf("it said nothing for %s (a rule function past its time limit that would not stop)", watchdog))
			return errStuck
		case <-ctx.Done():
			w.setKilled("the caller gave up")
			return ctx.Err()
		}
	}
}

func (w *worker) setKilled(why string) {
	w.mu.Lock()
	if w.killed == "" {
		w.killed = why
	}
	w.mu.Unlock()
}

// where is the call a careful worker announced last.
type where struct {
	event int
	rule  int
	fn    string
}

func parseWhere(p []json.RawMessage) *where {
	if len(p) != 3 {
		return nil
	}
	var wh where
	if json.Unmarshal(p[0], &wh.event) != nil || json.Unmarshal(p[1], &wh.rule) != nil || json.Unmarshal(p[2], &wh.fn) != nil {
		return nil
	}
	return &wh
}

// load sends the spec and reads the report. On failure, it says which item
// was loading (kind 0 helper, 1 model, 2 rule, and index).
func (w *worker) load(ctx context.Context, spec *Spec, timeout time.Duration) (LoadReport, *[2]int, error) {
	var (
		rep LoadReport
		at  *[2]int
	)
	err := w.roundTrip(ctx, loadRequest{Op: "load", Spec: spec}, timeout, func(a *answer) bool {
		if a.Progress != nil {
			var kind string
			var i int
			if len(a.Progress) == 2 && json.Unmarshal(a.Progress[0], &kind) == nil && json.Unmarshal(a.Progress[1], &i) == nil {
				if k, ok := map[string]int{"helper": 0, "model": 1, "rule": 2}[kind]; ok {
					at = &[2]int{k, i}
				}
			}
			return false
		}
		if a.Op == "loaded" {
			rep = a.LoadReport
			return true
		}
		return false
	})
	return rep, at, err
}

// eval sends events and fills out[i] as each event's answer arrives. It
// returns how many events were answered, and on failure the call a careful
// worker was making.
func (w *worker) eval(ctx context.Context, events []Event, careful bool, skip []int, watchdog time.Duration, out [][]Outcome) (int, *where, error) {
	var (
		done int
		at   *where
	)
	err := w.roundTrip(ctx, evalRequest{Op: "eval", Events: events, Careful: careful, Skip: skip}, watchdog, func(a *answer) bool {
		switch {
		case a.Progress != nil:
			at = parseWhere(a.Progress)
		case a.Index != nil:
			if *a.Index == done && done < len(out) {
				out[done] = append(out[done], a.Results...)
				done++
			}
		case a.Op == "done":
			return true
		}
		return false
	})
	if at != nil {
		at.event -= done // relative to the first unanswered event
	}
	return done, at, err
}

// stop ends the process (closing its input is enough for a healthy one)
// and returns its peak resident set size.
func (w *worker) stop() int64 {
	rss := w.peakRSS()
	w.in.Close()
	select {
	case <-w.exited:
	case <-time.After(100 * time.Millisecond):
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rss = max(w.rss, rss)
	return w.rss
}

// describe says how a worker that failed a call ended, for the rule's error.
func (w *worker) describe(cause error) string {
	w.mu.Lock()
	killed, waitErr := w.killed, w.waitErr
	w.mu.Unlock()
	var b strings.Builder
	switch {
	case killed != "":
		b.WriteString("the worker was killed: " + killed)
	case waitErr != nil:
		b.WriteString("the worker died (" + waitErr.Error() + ")")
	case cause != nil:
		b.WriteString("the worker failed: " + cause.Error())
	default:
		b.WriteString("the worker ended")
	}
	if last := w.stderr.lastLine(); last != "" {
		b.WriteString(": " + last)
	}
	return b.String()
}

// peakRSS reads the process's high-water resident set size (VmHWM).
func (w *worker) peakRSS() int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.rss
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			w.mu.Lock()
			w.rss = max(w.rss, kb<<10)
			r := w.rss
			w.mu.Unlock()
			return r
		}
	}
	return 0
}

// tail keeps the last bytes a worker wrote to stderr, for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
