// Command faultbench runs the replica fault test at full size: N alerts
// delivered by several alertbridge replicas sharing one PostgreSQL (or one
// process on SQLite) to one Jira sandbox, while replicas are SIGKILLed
// with creates in flight. It prints the issues made, how many were doubled
// and lost, and how long the jobs each dead replica held waited before they
// were taken up again (median and max; the target is at most 30 s).
//
// The harness is cmd/alertbridge's TestReplicaFaults, which CI runs at a
// small size; this command runs it once, through go test, with the size
// given here, so the two cannot drift apart. It needs the Go toolchain and
// must run inside the module.
//
//	go run ./internal/cmd/faultbench -replicas 2 -alerts 3000 -kills 2 -postgres postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//	go run ./internal/cmd/faultbench -postgres '' -replicas 1 -alerts 3000   # SQLite
//
// The PostgreSQL URL is an admin URL: each run creates a fresh database on
// that server and drops it afterwards.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"
)

// faultBenchEnv is the variable TestReplicaFaults reads its one
// configuration from (cmd/alertbridge/replica_fault_test.go).
const faultBenchEnv = "ALERTBRIDGE_FAULTBENCH"

const testPackage = "github.com/alertbridge/alertbridge/cmd/alertbridge"

func main() {
	var (
		replicas = flag.Int("replicas", 2, "alertbridge replicas sharing the database (1 on SQLite)")
		alerts   = flag.Int("alerts", 3000, "alerts posted, spread across the live replicas")
		kills    = flag.Int("kills", 2, "SIGKILLs, each of another replica; all but the last victim are restarted (on SQLite, all are)")
		pgURL    = flag.String("postgres", os.Getenv("ALERTBRIDGE_TEST_POSTGRES_URL"), "PostgreSQL admin URL (a database is created per run); empty: SQLite")
		rate     = flag.Float64("rate", 20, "the Jira destination's requests_per_second, per replica: keeps creates queued and in flight at each kill")
		verbose  = flag.Bool("v", false, "show the whole test output")
	)
	flag.Parse()
	log.SetFlags(0)
	driver := "postgres"
	if *pgURL == "" {
		driver = "sqlite"
		if *replicas != 1 {
			log.Fatalf("faultbench: SQLite runs one process: pass -replicas 1, or -postgres URL for %d replicas", *replicas)
		}
	}
	if *replicas < 1 || *alerts < 10 || *kills < 1 || *rate <= 0 {
		log.Fatal("faultbench: want -replicas ≥ 1, -alerts ≥ 10, -kills ≥ 1, -rate > 0")
	}
	// The test's own deadlines scale with the time the survivors take to
	// create every issue; go test's must stay above them.
	drain := time.Duration(float64(*alerts) / (*rate * float64(max(1, *replicas-1))) * float64(time.Second))
	timeout := 15*time.Minute + 8*drain

	spec := fmt.Sprintf("driver=%s replicas=%d alerts=%d kills=%d rate=%g", driver, *replicas, *alerts, *kills, *rate)
	cmd := exec.Command("go", "test", "-count=1", "-v", "-run", "^TestReplicaFaults$", "-timeout", timeout.String(), testPackage)
	cmd.Env = append(os.Environ(), faultBenchEnv+"="+spec, "ALERTBRIDGE_TEST_POSTGRES_URL="+*pgURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "faultbench: %s (go test -timeout %s)\n", spec, timeout)
	if err := cmd.Start(); err != nil {
		log.Fatalf("faultbench: %v", err)
	}
	result := scan(out, *verbose)
	runErr := cmd.Wait()

	if result == nil {
		log.Fatalf("faultbench: the test printed no result (%v); run with -v to see why", runErr)
	}
	fmt.Printf("%s, %s replica(s), %s alerts, %s kills, in %s\n", result["driver"], result["replicas"], result["alerts"], result["kills"], result["took"])
	fmt.Printf("  issues                     %s\n", result["issues"])
	fmt.Printf("  doubled                    %s\n", result["doubled"])
	fmt.Printf("  lost                       %s\n", result["lost"])
	fmt.Printf("  orphaned jobs              %s (%s resumed)\n", result["orphans"], result["resumed"])
	fmt.Printf("  orphan resumption median   %s\n", result["resumption_median"])
	fmt.Printf("  orphan resumption max      %s (target ≤ 30s)\n", result["resumption_max"])
	if result["settled"] != "true" {
		fmt.Println("  not settled: some alert had no issue, some orphan never resumed, or some job was still to run at the deadline")
	}
	if runErr != nil {
		fmt.Println("FAIL: the fault test's assertions failed (see above)")
		os.Exit(1)
	}
	fmt.Println("PASS")
}

// scan copies the test's output to stderr (all of it when verbose, else
// its log lines and verdicts) and returns the fields of its result line.
func scan(r io.Reader, verbose bool) map[string]string {
	var result map[string]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if verbose || strings.Contains(line, "replica_fault_test.go:") || strings.HasPrefix(strings.TrimSpace(line), "---") ||
			strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "ok") || strings.HasPrefix(line, "panic") {
			fmt.Fprintln(os.Stderr, line)
		}
		if _, rest, ok := strings.Cut(line, "faultbench result: "); ok {
			result = map[string]string{}
			for _, kv := range strings.Fields(rest) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					result[k] = v
				}
			}
		}
	}
	return result
}
