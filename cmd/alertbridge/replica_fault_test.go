package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read River's jobs
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/alertbridge/alertbridge/destination/jiradest"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// faultBenchEnv, when set, replaces TestReplicaFaults' configurations with
// the one it describes, e.g. "driver=postgres replicas=2 alerts=3000
// kills=2 rate=20": internal/cmd/faultbench runs the test at full size so.
const faultBenchEnv = "ALERTBRIDGE_FAULTBENCH"

// maxResumption is how long a job held by a killed replica may wait before
// another process (or the restarted one) takes it up again.
const maxResumption = 30 * time.Second

// The two halves of a create's time in flight: before Jira makes the issue
// (the sandbox's FaultSlow) and after, while the answer is held back. A
// kill in the first leaves no issue; in the second, an issue its creator
// never heard of, which a retry must find instead of making again.
const (
	createDelay = 400 * time.Millisecond
	answerHold  = 400 * time.Millisecond
	createPath  = "/rest/api/3/issue"
)

// TestReplicaFaults sends N alerts through replicas sharing one database
// and one Jira, SIGKILLs a replica twice while creates are in flight, and
// requires exactly N issues, none doubled, none lost, and every job the
// dead replica held taken up again within maxResumption.
//
// On PostgreSQL with 2 and 3 replicas the first victim is restarted (it
// may reclaim its own jobs) and the second, another replica, is left dead
// (only the survivors can take its jobs). On SQLite the one process is
// killed and restarted twice.
//
// Resumption is read from River's river_job table: when a replica dies,
// the jobs in state running whose attempted_by ends with its client ID are
// its orphans; each resumes at its next attempted_at (or its finalized_at,
// were it finished without a new attempt), counted from the database's
// clock just after the process is gone. A replica's client ID is learnt as
// it starts: the replicas start one at a time, each while alerts are
// queued, and the new ID in attempted_by after a start is the new
// replica's. Nothing here knows River's ID format or our own tables.
func TestReplicaFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
	t.Setenv("ALERTBRIDGE_RETRY_BACKOFF", "200ms")
	runs := []faultRun{
		{name: "sqlite", driver: "sqlite", replicas: 1},
		{name: "postgres_2_replicas", driver: "postgres", replicas: 2},
		{name: "postgres_3_replicas", driver: "postgres", replicas: 3},
	}
	for i := range runs {
		// Small enough for CI: with a fix, each run takes well under a
		// minute and a half; the rate limit keeps a few dozen creates
		// queued and several in flight per replica at each kill.
		runs[i].alerts, runs[i].kills, runs[i].rate = 300, 2, 20
	}
	if v := os.Getenv(faultBenchEnv); v != "" {
		fr, err := parseFaultRun(v)
		if err != nil {
			t.Fatalf("%s: %v", faultBenchEnv, err)
		}
		runs = []faultRun{fr}
	}
	for _, fr := range runs {
		t.Run(fr.name, func(t *testing.T) {
			t.Parallel()
			fr.check(t, fr.run(t))
		})
	}
}

// faultRun is one configuration of the test.
type faultRun struct {
	name     string
	driver   string
	replicas int
	alerts   int
	kills    int
	rate     float64 // the Jira destination's requests_per_second, per replica
}

func parseFaultRun(s string) (faultRun, error) {
	fr := faultRun{name: "bench", driver: "postgres", replicas: 2, alerts: 3000, kills: 2, rate: 20}
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch k {
		case "driver":
			fr.driver = v
		case "replicas":
			fr.replicas, err = strconv.Atoi(v)
		case "alerts":
			fr.alerts, err = strconv.Atoi(v)
		case "kills":
			fr.kills, err = strconv.Atoi(v)
		case "rate":
			fr.rate, err = strconv.ParseFloat(v, 64)
		default:
			return fr, fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return fr, fmt.Errorf("%s: %v", k, err)
		}
	}
	switch {
	case fr.driver != "sqlite" && fr.driver != "postgres":
		return fr, fmt.Errorf("driver %q: want sqlite or postgres", fr.driver)
	case fr.driver == "sqlite" && fr.replicas != 1:
		return fr, fmt.Errorf("sqlite runs one process, not %d replicas", fr.replicas)
	case fr.replicas < 1 || fr.alerts < 10 || fr.kills < 1 || fr.rate <= 0:
		return fr, fmt.Errorf("want replicas ≥ 1, alerts ≥ 10, kills ≥ 1, rate > 0")
	case fr.replicas > 1 && fr.kills > fr.replicas:
		// Each victim must be a replica whose client ID was learnt at the
		// start; a restarted replica's new ID cannot be told apart from
		// another restarted one's.
		return fr, fmt.Errorf("with several replicas, at most one kill per replica (%d kills, %d replicas)", fr.kills, fr.replicas)
	}
	return fr, nil
}

// drain is how long the live replicas take to create every issue.
func (fr faultRun) drain() time.Duration {
	return time.Duration(float64(fr.alerts) / (fr.rate * float64(max(1, fr.replicas-1))) * float64(time.Second))
}

// killRecord is what one kill found and caused.
type killRecord struct {
	replica    int
	at         time.Duration // since the run began
	issuesAt   int           // issues in Jira at the kill
	inFlight   int           // the victim's creates in flight at the kill
	held       int           // of them, created in Jira with the answer held back
	orphans    int           // jobs in state running, last attempted by the victim
	restarted  bool
	resumption []time.Duration // per orphan that resumed
}

type faultResult struct {
	issues, doubled, lost, stray int
	creates, searches            int
	doubledSample                []string // a few doubled alerts, with when each issue was made
	kills                        []*killRecord
	settled                      bool
	took                         time.Duration
}

func (r faultResult) resumption() []time.Duration {
	var all []time.Duration
	for _, k := range r.kills {
		all = append(all, k.resumption...)
	}
	slices.Sort(all)
	return all
}

func (r faultResult) orphans() int {
	n := 0
	for _, k := range r.kills {
		n += k.orphans
	}
	return n
}

// replica is one alertbridge process slot: a port and a config; the
// process in it may be replaced.
type replica struct {
	i        int
	addr     string
	cfg      string
	s        *server
	alive    bool
	clientID string // River's client ID of the process, once learnt
}

func (fr faultRun) run(t *testing.T) faultResult {
	began := time.Now()
	storageURL := testdb.URL(t, fr.driver)
	sb, err := sandbox.Start(sandbox.Options{Deployment: jira.DeploymentCloud, IndexLag: 300 * time.Millisecond, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	sb.Fail(sandbox.FaultSpec{Kind: sandbox.FaultSlow, Method: http.MethodPost, PathPrefix: createPath, Delay: createDelay})
	front := newJiraFront(t, sb, fr.replicas, answerHold)
	jobs := openJobsDB(t, fr.driver, storageURL)

	ids := make([]string, fr.alerts)
	marker := make(map[string]int, fr.alerts) // marker label → alert index
	for i := range ids {
		ids[i] = fmt.Sprintf("rf-%05d", i)
		marker[jiradest.Marker("sec-jira", ids[i])] = i
	}
	perAlert := func() []int {
		n := make([]int, fr.alerts)
		for _, is := range sb.Issues() {
			for _, l := range is.Labels {
				if i, ok := marker[l]; ok {
					n[i]++
				}
			}
		}
		return n
	}

	var mu sync.RWMutex // held for reading by each post; for writing while replicas change
	reps := make([]*replica, fr.replicas)
	for i := range reps {
		addr := freePort(t)
		reps[i] = &replica{i: i, addr: addr, cfg: writeConfig(t, faultConfig(addr, storageURL, front.url(i), fr.rate, 32))}
	}
	start := func(r *replica) {
		mu.Lock()
		defer mu.Unlock()
		r.s, r.alive = startServer(t, r.cfg, r.addr), true
	}
	// post sends alerts [from, to) spread across the live replicas.
	post := func(from, to int) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					mu.RLock()
					var live []*replica
					for _, r := range reps {
						if r.alive {
							live = append(live, r)
						}
					}
					s := live[i%len(live)].s
					code, err := s.api("POST", "/api/v1/alerts", map[string]any{
						"alertId": ids[i], "title": "replica fault " + ids[i], "severity": "HIGH",
					}, nil)
					mu.RUnlock()
					if err != nil || code != http.StatusAccepted {
						t.Errorf("post %s: %d %v", ids[i], code, err)
					}
				}
			}()
		}
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
	}

	// Start the replicas one at a time, each followed by a batch of alerts,
	// and learn each one's client ID: the one new in attempted_by.
	posted := 0
	if fr.replicas == 1 {
		start(reps[0]) // alone, every running job is its own
	} else {
		batch := fr.alerts / (2 * fr.replicas)
		for _, r := range reps {
			since := jobs.now(t)
			start(r)
			post(posted, posted+batch)
			posted += batch
			others := map[string]bool{}
			for _, o := range reps {
				if o.clientID != "" {
					others[o.clientID] = true
				}
			}
			after := fmt.Sprintf("attempted_at IS NOT NULL AND %s > %f", jobs.epoch("attempted_at"), since)
			waitEvery(t, 30*time.Second, 100*time.Millisecond, fmt.Sprintf("replica %d to run a job under a River client ID of its own (replicas need distinct IDs)", r.i), func() bool {
				for _, j := range jobs.list(t, after) {
					if id := j.lastBy(); id != "" && !others[id] {
						r.clientID = id
						return true
					}
				}
				return false
			})
		}
	}
	post(posted, fr.alerts)

	res := faultResult{}
	ctx, cancel := context.WithCancel(context.Background())
	var trackers sync.WaitGroup
	defer func() { cancel(); trackers.Wait() }() // no tracker outlives the test
	for k := range fr.kills {
		v := reps[k%fr.replicas]
		kr := &killRecord{replica: v.i, restarted: fr.replicas == 1 || k < fr.kills-1}
		res.kills = append(res.kills, kr)
		// Kill while the victim has creates made in Jira but unanswered,
		// and with work left for the others.
		threshold := (k + 1) * fr.alerts / (fr.kills + 1)
		waitEvery(t, time.Minute+2*fr.drain(), 5*time.Millisecond, fmt.Sprintf("kill %d: %d issues and replica %d with creates made but unanswered", k+1, threshold, v.i), func() bool {
			return front.made() >= threshold && front.counts(v.i).held >= 2
		})
		mu.Lock()
		c := front.counts(v.i)
		v.s.kill()
		v.alive = false
		mu.Unlock()
		killedAt := jobs.now(t)
		kr.at, kr.issuesAt, kr.inFlight, kr.held = time.Since(began), front.made(), c.inFlight, c.held
		orphans := map[int64]float64{} // job ID → attempted_at it was left with
		for _, j := range jobs.list(t, "state = 'running'") {
			if !j.periodic && (fr.replicas == 1 || j.lastBy() == v.clientID) {
				orphans[j.id] = j.attemptedAt
			}
		}
		kr.orphans = len(orphans)
		trackers.Add(1)
		go func() {
			defer trackers.Done()
			kr.resumption = jobs.track(ctx, t, orphans, killedAt)
		}()
		if kr.restarted {
			start(v)
		}
	}

	// Wait for the end state: every alert has an issue, every orphan has
	// resumed, and no job is left to run. Anything doubled shows then.
	trackersDone := make(chan struct{})
	go func() { trackers.Wait(); close(trackersDone) }()
	deadline := time.Now().Add(3*time.Minute + 2*fr.drain())
	for !res.settled && time.Now().Before(deadline) {
		select {
		case <-trackersDone:
			res.settled = jobs.pending(t) == 0 && !slices.Contains(perAlert(), 0)
		default:
		}
		if !res.settled {
			time.Sleep(200 * time.Millisecond)
		}
	}
	cancel()
	<-trackersDone

	issues := sb.Issues()
	res.issues = len(issues)
	made := make([][]string, fr.alerts) // per alert: its issues, and when each was made
	for _, is := range issues {
		i, ok := -1, false
		for _, l := range is.Labels {
			if i, ok = marker[l]; ok {
				break
			}
		}
		if !ok {
			res.stray++
			continue
		}
		made[i] = append(made[i], fmt.Sprintf("%s at %s", is.Key, fmtSeconds(is.Created.Sub(began))))
	}
	for i, m := range made {
		switch {
		case len(m) == 0:
			res.lost++
		case len(m) > 1:
			res.doubled += len(m) - 1
			if len(res.doubledSample) < 5 {
				res.doubledSample = append(res.doubledSample, ids[i]+": "+strings.Join(m, ", "))
			}
		}
	}
	for _, rq := range sb.Requests() {
		switch {
		case rq.Method == http.MethodPost && (rq.Path == createPath || rq.Path == createPath+"/bulk"):
			res.creates++
		case strings.HasPrefix(rq.Path, "/rest/api/3/search"):
			res.searches++
		}
	}
	res.took = time.Since(began)
	fr.log(t, res)
	return res
}

func (fr faultRun) log(t *testing.T, res faultResult) {
	t.Helper()
	for i, k := range res.kills {
		after := "left dead"
		if k.restarted {
			after = "restarted"
		}
		rs := slices.Sorted(slices.Values(k.resumption))
		t.Logf("kill %d at %s: replica %d at %d issues, %d creates in flight (%d made in Jira, answer held), %d orphaned jobs, %d resumed, median %s max %s; %s",
			i+1, fmtSeconds(k.at), k.replica, k.issuesAt, k.inFlight, k.held, k.orphans, len(rs), fmtSeconds(median(rs)), fmtSeconds(maxOf(rs)), after)
	}
	for _, d := range res.doubledSample {
		t.Logf("doubled %s", d)
	}
	rs := res.resumption()
	t.Logf("%d alerts, %d replicas on %s, %d kills: %d issues, %d doubled, %d lost, %d without a marker; %d create and %d search requests; settled %v after %s",
		fr.alerts, fr.replicas, fr.driver, fr.kills, res.issues, res.doubled, res.lost, res.stray, res.creates, res.searches, res.settled, res.took.Round(time.Second))
	t.Logf("faultbench result: driver=%s replicas=%d alerts=%d kills=%d issues=%d doubled=%d lost=%d orphans=%d resumed=%d resumption_median=%s resumption_max=%s settled=%v took=%s",
		fr.driver, fr.replicas, fr.alerts, fr.kills, res.issues, res.doubled, res.lost, res.orphans(), len(rs),
		fmtSeconds(median(rs)), fmtSeconds(maxOf(rs)), res.settled, res.took.Round(time.Second))
}

func (fr faultRun) check(t *testing.T, res faultResult) {
	t.Helper()
	if !res.settled {
		t.Errorf("not settled within the deadline: an alert without an issue, an orphan not resumed, or a job still to run")
	}
	if res.issues != fr.alerts || res.doubled != 0 || res.lost != 0 {
		t.Errorf("%d issues for %d alerts: %d doubled, %d lost; want exactly one each", res.issues, fr.alerts, res.doubled, res.lost)
	}
	for i, k := range res.kills {
		if k.orphans == 0 {
			t.Errorf("kill %d left no running job behind: it tested nothing", i+1)
		}
		if len(k.resumption) < k.orphans {
			t.Errorf("kill %d: %d of %d orphaned jobs never resumed", i+1, k.orphans-len(k.resumption), k.orphans)
		}
		if m := maxOf(k.resumption); m > maxResumption {
			t.Errorf("kill %d: orphaned jobs resumed after up to %s, want ≤ %s", i+1, fmtSeconds(m), maxResumption)
		}
	}
}

// waitEvery polls cond every interval until it holds, failing the test
// after d with what it waited for.
func waitEvery(t *testing.T, d, every time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(every)
	}
}

func median(sorted []time.Duration) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[len(sorted)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

func fmtSeconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s" }

// jiraFront puts one listener per replica in front of the shared sandbox,
// so the test knows whose creates are in flight, and holds back each
// create's answer for hold after the issue exists.
type jiraFront struct {
	sb   *sandbox.Sandbox
	hold time.Duration
	srvs []*httptest.Server

	mu    sync.Mutex
	per   []frontCounts
	total int // issues made through the front, by every replica
}

type frontCounts struct {
	inFlight int // creates received and not answered
	held     int // of them, made in Jira and waiting out the hold
}

func newJiraFront(t *testing.T, sb *sandbox.Sandbox, replicas int, hold time.Duration) *jiraFront {
	f := &jiraFront{sb: sb, hold: hold, per: make([]frontCounts, replicas)}
	for i := range replicas {
		srv := httptest.NewServer(f.handler(i))
		t.Cleanup(srv.Close)
		f.srvs = append(f.srvs, srv)
	}
	return f
}

func (f *jiraFront) url(i int) string { return f.srvs[i].URL }

func (f *jiraFront) counts(i int) frontCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.per[i]
}

// made is how many issues the replicas' creates have made in Jira: every
// create passes the front, so this counts the sandbox's issues without
// copying them.
func (f *jiraFront) made() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

func (f *jiraFront) add(i int, inFlight, held int) {
	f.mu.Lock()
	f.per[i].inFlight += inFlight
	f.per[i].held += held
	f.total += max(held, 0)
	f.mu.Unlock()
}

func (f *jiraFront) handler(i int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || (r.URL.Path != createPath && r.URL.Path != createPath+"/bulk") {
			f.sb.ServeHTTP(w, r)
			return
		}
		f.add(i, 1, 0)
		defer f.add(i, -1, 0)
		rec := httptest.NewRecorder()
		f.sb.ServeHTTP(rec, r)
		if r.Context().Err() != nil {
			return // the replica died or gave up before Jira made the issue
		}
		if rec.Code == http.StatusCreated {
			// A bulk create made as many issues as its answer lists.
			made := 1
			if r.URL.Path != createPath {
				var ans struct {
					Issues []json.RawMessage `json:"issues"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &ans)
				made = len(ans.Issues)
			}
			f.add(i, 0, made)
			t := time.NewTimer(f.hold)
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
			f.add(i, 0, -made)
			if r.Context().Err() != nil {
				return // the issue exists; its creator never hears of it
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// jobsDB reads River's river_job table, on either database, with the
// dialect's spelling of epoch seconds and of a column as text.
type jobsDB struct {
	db     *sql.DB
	nowSQL string
	epoch  func(col string) string
	text   func(col string) string
}

type jobRow struct {
	id          int64
	state       string
	attemptedAt float64 // epoch seconds; 0 if never attempted
	finalizedAt float64
	attemptedBy []string
	periodic    bool
}

// lastBy is the client ID of the job's latest attempt.
func (j jobRow) lastBy() string {
	if len(j.attemptedBy) == 0 {
		return ""
	}
	return j.attemptedBy[len(j.attemptedBy)-1]
}

func openJobsDB(t *testing.T, driver, storageURL string) *jobsDB {
	t.Helper()
	var j *jobsDB
	switch driver {
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(storageURL, "sqlite://")+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		j = &jobsDB{db: db,
			nowSQL: `SELECT (julianday('now') - 2440587.5) * 86400.0`,
			epoch:  func(c string) string { return "(julianday(" + c + ") - 2440587.5) * 86400.0" },
			text:   func(c string) string { return "CAST(" + c + " AS TEXT)" },
		}
	case "postgres":
		db, err := sql.Open("pgx", storageURL)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(2)
		j = &jobsDB{db: db,
			nowSQL: `SELECT extract(epoch FROM clock_timestamp())::float8`,
			epoch:  func(c string) string { return "extract(epoch FROM " + c + ")::float8" },
			text: func(c string) string {
				if c == "attempted_by" {
					return "array_to_json(attempted_by)::text"
				}
				return c + "::text"
			},
		}
	default:
		t.Fatalf("unknown driver %q", driver)
	}
	t.Cleanup(func() { j.db.Close() })
	return j
}

// now is the database's clock, which stamps attempted_at, in epoch seconds.
func (j *jobsDB) now(t *testing.T) float64 {
	t.Helper()
	var v float64
	if err := j.db.QueryRow(j.nowSQL).Scan(&v); err != nil {
		t.Fatalf("read the database clock: %v", err)
	}
	return v
}

func (j *jobsDB) query(where string) ([]jobRow, error) {
	rows, err := j.db.Query(`SELECT id, state, ` + j.epoch("attempted_at") + `, ` + j.epoch("finalized_at") + `, ` +
		j.text("attempted_by") + `, ` + j.text("metadata") + ` FROM river_job WHERE ` + where)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var (
			r            jobRow
			at, fin      sql.NullFloat64
			by, metadata sql.NullString
		)
		if err := rows.Scan(&r.id, &r.state, &at, &fin, &by, &metadata); err != nil {
			return nil, err
		}
		r.attemptedAt, r.finalizedAt = at.Float64, fin.Float64
		if by.Valid {
			if err := json.Unmarshal([]byte(by.String), &r.attemptedBy); err != nil {
				return nil, fmt.Errorf("job %d attempted_by %q: %v", r.id, by.String, err)
			}
		}
		var md struct {
			Periodic bool `json:"periodic"`
		}
		_ = json.Unmarshal([]byte(metadata.String), &md)
		r.periodic = md.Periodic
		out = append(out, r)
	}
	return out, rows.Err()
}

func (j *jobsDB) list(t *testing.T, where string) []jobRow {
	t.Helper()
	rows, err := j.query(where)
	if err != nil {
		t.Fatalf("read river_job: %v", err)
	}
	return rows
}

// pending counts jobs not in a final state, periodic ones aside (they come
// back by design).
func (j *jobsDB) pending(t *testing.T) int {
	n := 0
	for _, r := range j.list(t, "state NOT IN ('completed', 'cancelled', 'discarded')") {
		if !r.periodic {
			n++
		}
	}
	return n
}

// track polls the orphans (job ID → the attempted_at they were left with)
// until each has resumed or ctx ends, and returns each resumption's delay
// from killedAt, both on the database's clock.
func (j *jobsDB) track(ctx context.Context, t *testing.T, orphans map[int64]float64, killedAt float64) []time.Duration {
	var out []time.Duration
	left := make(map[int64]float64, len(orphans))
	for id, at := range orphans {
		left[id] = at
	}
	since := func(at float64) time.Duration {
		return time.Duration(math.Round((at - killedAt) * float64(time.Second)))
	}
	for len(left) > 0 {
		idList := make([]string, 0, len(left))
		for id := range left {
			idList = append(idList, strconv.FormatInt(id, 10))
		}
		rows, err := j.query("id IN (" + strings.Join(idList, ",") + ")")
		if err != nil {
			t.Errorf("track orphans: %v", err)
			return out
		}
		found := map[int64]bool{}
		for _, r := range rows {
			found[r.id] = true
			switch was := left[r.id]; {
			case r.attemptedAt > was+1e-3: // a new attempt began
				out = append(out, since(r.attemptedAt))
				delete(left, r.id)
			case r.state == "completed" || r.state == "cancelled" || r.state == "discarded":
				out = append(out, since(r.finalizedAt))
				delete(left, r.id)
			}
		}
		for id := range left {
			if !found[id] {
				t.Logf("orphaned job %d was deleted without a new attempt", id)
				delete(left, id)
			}
		}
		select {
		case <-ctx.Done():
			return out
		case <-time.After(100 * time.Millisecond):
		}
	}
	return out
}
