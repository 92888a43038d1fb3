package config

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The configuration reference, and the examples it points to.
var (
	referencePath = filepath.Join("..", "docs", "configuration.md")
	examplesDir   = filepath.Join("..", "examples")
)

// referenceExampleHeading introduces the reference's complete example: the
// first yaml block after it.
const referenceExampleHeading = "## A complete example"

// anyEnv resolves every secret, whatever its variable or file is called,
// to a value that passes as a token and as a Slack webhook URL alike.
func anyEnv() Env {
	value := func(name string) string {
		return "https://hooks.example.com/services/" + strings.Trim(filepath.Base(name), "/")
	}
	return Env{
		LookupEnv: func(name string) (string, bool) { return value(name), true },
		ReadFile:  func(path string) ([]byte, error) { return []byte(value(path) + "\n"), nil },
	}
}

// askedKeys parses data as Parse does and returns the path of every key the
// parser asked for, list indices written as [] ("destinations[].jira.url").
// Keys whose names are data (severities in priority, field ids in
// custom_fields) are not keys of the configuration and are not asked for.
func askedKeys(data []byte, env Env) map[string]bool {
	index := regexp.MustCompile(`\[\d+\]`)
	keys := map[string]bool{}
	d := &decoder{env: env, budget: maxExpansion, asked: func(path string) {
		keys[index.ReplaceAllString(path, "[]")] = true
	}}
	d.config(d.document(data))
	return keys
}

// documentedKeys reads the reference's key tables: those whose first
// header cell is "key". Each row's first cell names one key, or several
// ("`x_env` or `x_file`"), in code spans.
func documentedKeys(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	keys := map[string]int{}
	span := regexp.MustCompile("`([^`]+)`")
	inKeyTable := false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			inKeyTable = false
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		first = strings.TrimSpace(first)
		switch {
		case first == "key":
			inKeyTable = true
			continue
		case !inKeyTable || strings.Trim(first, "-: ") == "":
			continue
		}
		names := span.FindAllStringSubmatch(first, -1)
		if len(names) == 0 {
			t.Errorf("%s:%d: the first cell of a key table names no key in `code`: %s", referencePath, n, first)
		}
		for _, m := range names {
			if prev, dup := keys[m[1]]; dup {
				t.Errorf("%s:%d: %s is documented twice (first on line %d)", referencePath, n, m[1], prev)
			}
			keys[m[1]] = n
		}
	}
	return keys
}

// referenceExample is the yaml block after referenceExampleHeading.
func referenceExample(t *testing.T, doc []byte) []byte {
	t.Helper()
	_, rest, ok := bytes.Cut(doc, []byte("\n"+referenceExampleHeading+"\n"))
	if !ok {
		t.Fatalf("%s has no %q section", referencePath, referenceExampleHeading)
	}
	_, rest, ok = bytes.Cut(rest, []byte("\n```yaml\n"))
	if !ok {
		t.Fatalf("%s: no ```yaml block after %q", referencePath, referenceExampleHeading)
	}
	block, _, ok := bytes.Cut(rest, []byte("\n```\n"))
	if !ok {
		t.Fatalf("%s: the complete example's block is not closed", referencePath)
	}
	return append(block, '\n')
}

func readReference(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The reference's complete example is a valid configuration, under the
// same strict rules as any file: a key the reference shows that alertbridge
// does not know is an unknown key here.
func TestReferenceExampleParses(t *testing.T) {
	if _, err := Parse(referenceExample(t, readReference(t)), anyEnv()); err != nil {
		t.Fatalf("the complete example in %s does not parse:\n%v", referencePath, err)
	}
}

// Every key the parser reads is in the reference's tables, and every key
// in the tables is one the parser reads: a key added to the code without
// documentation fails here, and so does documentation of a key that is
// gone. The keys read are collected from the reference's own example, the
// examples and the test's full configuration, each of which enters every
// block (a list's element keys are only asked for when it has an element).
func TestReferenceDocumentsEveryKey(t *testing.T) {
	doc := readReference(t)
	documented := documentedKeys(t, doc)
	sources := map[string][]byte{referencePath + " (complete example)": referenceExample(t, doc)}
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sources["testdata/full.yaml"] = full
	for _, path := range alertbridgeExamples(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sources[path] = data
	}
	read := map[string]string{} // key → a source that made the parser ask for it
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		for k := range askedKeys(sources[name], anyEnv()) {
			if _, ok := read[k]; !ok {
				read[k] = name
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(read)) {
		if _, ok := documented[k]; !ok {
			t.Errorf("%s reads key %s (asked for while parsing %s), which %s does not document", "config", k, read[k], referencePath)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(documented)) {
		if _, ok := read[k]; !ok {
			t.Errorf("%s:%d documents key %s, which the parser never reads", referencePath, documented[k], k)
		}
	}
	if len(read) < 50 {
		t.Errorf("only %d keys read: the key recorder is not hooked in", len(read))
	}
}

// The reference's key table reader and the recorder agree on a key's
// spelling; and the recorder sees keys of absent blocks, so that a new
// block with no example still has to be documented.
func TestAskedKeys(t *testing.T) {
	keys := askedKeys([]byte("destinations:\n  - name: a\n    type: webhook\n    webhook: {url: https://x.example}\n"), anyEnv())
	for _, k := range []string{"destinations[].webhook.url", "destinations[].webhook.secret_env", "server.listen", "storage.url", "detections.paths"} {
		if !keys[k] {
			t.Errorf("key %s not recorded; got %v", k, slices.Sorted(maps.Keys(keys)))
		}
	}
	got := documentedKeys(t, []byte("| key | type |\n|---|---|\n| `a.b` | x |\n| `c_env` or `c_file` | secret |\n\n| function | meaning |\n|---|---|\n| `join` | x |\n"))
	if want := []string{"a.b", "c_env", "c_file"}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) {
		t.Errorf("documented keys %v, want %v", slices.Sorted(maps.Keys(got)), want)
	}
}

// foreignExamples are the files under examples/ that configure other
// programs, each with the check that it points at alertbridge as the
// reference says.
var foreignExamples = map[string]func(t *testing.T, data []byte){
	"alertmanager.yml":           checkAlertmanagerExample,
	"grafana-contact-point.yaml": checkGrafanaExample,
}

// alertbridgeExamples are the YAML files under examples/ that are
// alertbridge configurations.
func alertbridgeExamples(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		paths, err := filepath.Glob(filepath.Join(examplesDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if foreignExamples[filepath.Base(p)] == nil {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no configurations under %s", examplesDir)
	}
	return out
}

// Every alertbridge configuration under examples/ parses, so that none
// rots as keys change; the other programs' files point here correctly.
func TestExamplesParse(t *testing.T) {
	for _, path := range alertbridgeExamples(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Parse(data, anyEnv())
		if err != nil {
			t.Errorf("%s does not parse:\n%v", path, err)
			continue
		}
		for _, w := range cfg.Warnings {
			t.Errorf("%s: warning %v", path, w)
		}
	}
	for name, check := range foreignExamples {
		data, err := os.ReadFile(filepath.Join(examplesDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Run(name, func(t *testing.T) { check(t, data) })
	}
}

// The quickstart runs with no Jira account and shows sync.
func TestQuickstartUsesTheSandboxWithSync(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examplesDir, "quickstart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, anyEnv())
	if err != nil {
		t.Fatal(err)
	}
	var jira []*Jira
	for _, d := range cfg.Destinations {
		if d.Jira != nil {
			jira = append(jira, d.Jira)
		}
	}
	if len(jira) == 0 {
		t.Fatal("the quickstart has no Jira destination")
	}
	for _, j := range jira {
		if !j.Sandbox() {
			t.Errorf("Jira destination on %s, want the in-process sandbox", j.URL)
		}
		if j.Sync.Status == SyncOff && j.Sync.Assignee == SyncOff && j.Sync.Comments == SyncOff {
			t.Error("the quickstart's Jira destination syncs nothing")
		}
	}
}

func checkAlertmanagerExample(t *testing.T, data []byte) {
	var am struct {
		Route struct {
			Receiver string `yaml:"receiver"`
		} `yaml:"route"`
		Receivers []struct {
			Name           string `yaml:"name"`
			WebhookConfigs []struct {
				URL          string `yaml:"url"`
				SendResolved *bool  `yaml:"send_resolved"`
				MaxAlerts    int    `yaml:"max_alerts"`
				HTTPConfig   struct {
					Authorization struct {
						Type            string `yaml:"type"`
						CredentialsFile string `yaml:"credentials_file"`
						Credentials     string `yaml:"credentials"`
					} `yaml:"authorization"`
				} `yaml:"http_config"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(data, &am); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range am.Receivers {
		for _, w := range r.WebhookConfigs {
			if !strings.HasSuffix(w.URL, "/api/v1/alerts/alertmanager") {
				continue
			}
			found = true
			a := w.HTTPConfig.Authorization
			switch {
			case a.Type != "Bearer" || a.CredentialsFile == "":
				t.Errorf("receiver %s: want http_config.authorization of type Bearer with credentials_file, got %+v", r.Name, a)
			case a.Credentials != "":
				t.Errorf("receiver %s: a token written in the file", r.Name)
			}
			if w.SendResolved == nil || !*w.SendResolved {
				t.Errorf("receiver %s: send_resolved must be true, so that resolves reach the alerts", r.Name)
			}
			if w.MaxAlerts < 1 || w.MaxAlerts > 10000 {
				t.Errorf("receiver %s: max_alerts %d, want 1 to 10000 (alertbridge refuses larger notifications)", r.Name, w.MaxAlerts)
			}
		}
	}
	if !found {
		t.Error("no webhook_configs entry posts to /api/v1/alerts/alertmanager")
	}
	if am.Route.Receiver == "" {
		t.Error("no route: the receiver is never used")
	}
}

func checkGrafanaExample(t *testing.T, data []byte) {
	var g struct {
		APIVersion    int `yaml:"apiVersion"`
		ContactPoints []struct {
			Name      string `yaml:"name"`
			Receivers []struct {
				Type     string         `yaml:"type"`
				Settings map[string]any `yaml:"settings"`
			} `yaml:"receivers"`
		} `yaml:"contactPoints"`
	}
	if err := yaml.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if g.APIVersion != 1 {
		t.Errorf("apiVersion %d, want 1", g.APIVersion)
	}
	found := false
	for _, cp := range g.ContactPoints {
		for _, r := range cp.Receivers {
			url, _ := r.Settings["url"].(string)
			if r.Type != "webhook" || !strings.HasSuffix(url, "/api/v1/alerts/grafana") {
				continue
			}
			found = true
			if s, _ := r.Settings["authorization_scheme"].(string); s != "Bearer" {
				t.Errorf("contact point %s: authorization_scheme %q, want Bearer", cp.Name, s)
			}
			if c, _ := r.Settings["authorization_credentials"].(string); !strings.HasPrefix(c, "$") {
				t.Errorf("contact point %s: authorization_credentials should come from the environment ($VAR), not be written in the file", cp.Name)
			}
		}
	}
	if !found {
		t.Error("no webhook contact point posts to /api/v1/alerts/grafana")
	}
}
