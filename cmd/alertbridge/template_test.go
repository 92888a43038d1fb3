package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/sandbox"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

// templatedJira is a Jira destination with every kind of template, over
// the labels and annotations of Alertmanager alerts as well as the fields
// every alert has.
func templatedJira(url, dep string) string {
	return fmt.Sprintf(`
server: {public_url: "https://ab.example"}
destinations:
  - name: sec-jira
    type: jira
    jira:
      url: %s
      deployment: %s
      email: %s
      token_env: JIRA_TOKEN
      project: SEC
      summary: "[{{ .Severity }}] {{ .Labels.alertname | default .Title }}"
      description: |
        {{ with .Annotations.description }}{{ markdownEscape . }}{{ else }}{{ markdown .Description }}{{ end }}

        {{ link "View the alert in alertbridge" .PageURL }}

        {{ range $k, $v := .Labels }}- **{{ markdownEscape $k }}:** {{ code $v }}
        {{ end }}
        {{ codeBlock "json" .ContextJSON }}
      labels: [security-detection, "team-{{ .Labels.team | default \"none\" }}"]
      labels_by_severity: {INFO: ["sev-{{ .Severity | toLower }}"]}
      custom_fields: {customfield_10010: "{{ .Labels.team | default .Name }}"}
`, url, dep, sandbox.DefaultUser.Email)
}

// renderFields runs "template render" and decodes the field objects it prints.
func renderFields(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	code, out, errOut := runCLI(append([]string{"template", "render"}, args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("template render %q: exit %d, stderr %s", args, code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var all []map[string]any
	for {
		var f map[string]any
		if err := dec.Decode(&f); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		all = append(all, f)
	}
	if len(all) == 0 {
		t.Fatal("template render printed nothing")
	}
	return all
}

// What "template render" prints is what a create sends: its description is
// valid ADF on Cloud and wiki markup on Data Center, and the create request
// made of it passes the deployment's OpenAPI spec and makes the issue.
func TestTemplateRender(t *testing.T) {
	amPayload := upstream.Path(t, "alert-payloads", "alertmanager", "prom_post_request.json")
	amGroup := upstream.Path(t, "alert-payloads", "alertmanager", "card-grafana-inspired-payload.json")
	pantherPayload := upstream.Path(t, "alert-payloads", "panther", "custom_webhook.example-payload.json")
	t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
	for _, dep := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(dep), func(t *testing.T) {
			sb, err := sandbox.Start(sandbox.Options{Deployment: dep, Validate: openapicheck.Validate(t, dep),
				Projects: []sandbox.Project{{Key: "SEC", Fields: []sandbox.Field{{ID: "customfield_10010", Name: "Team"}}}}})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			depName := map[jira.Deployment]string{jira.DeploymentCloud: "cloud", jira.DeploymentDataCenter: "datacenter"}[dep]
			cfg := writeConfig(t, templatedJira(sb.URL(), depName))
			user := sandbox.DefaultUser.Email
			if dep == jira.DeploymentDataCenter {
				user = sandbox.DefaultUser.Name
			}
			client := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: dep, User: user, Token: sandbox.DefaultUser.Token, Timeout: 5 * time.Second})
			checker := openapicheck.For(t, dep)

			sample := renderFields(t, "--config", cfg, "sec-jira")
			am := renderFields(t, "sec-jira", "--config", cfg, "--alert", amPayload)
			group := renderFields(t, "sec-jira", "--config", cfg, "--alert", amGroup)
			panther := renderFields(t, "--config", cfg, "--alert", pantherPayload, "sec-jira")
			if len(sample) != 1 || len(am) != 1 || len(group) != 3 || len(panther) != 1 {
				t.Fatalf("%d, %d, %d and %d field sets", len(sample), len(am), len(group), len(panther))
			}
			all := append(append(append(append([]map[string]any(nil), sample...), am...), group...), panther...)
			for i, f := range all {
				var md string
				switch desc := f["description"].(type) {
				case map[string]any:
					if dep != jira.DeploymentCloud {
						t.Fatalf("%d: an ADF description on Data Center", i)
					}
					if err := checker.ValidateADF(desc); err != nil {
						t.Fatalf("%d: the description breaks the ADF schema: %v", i, err)
					}
					raw, _ := json.Marshal(desc)
					doc, err := adf.Parse(raw)
					if err != nil {
						t.Fatal(err)
					}
					md = adf.ToMarkdown(doc)
				case string:
					if dep != jira.DeploymentDataCenter {
						t.Fatalf("%d: a wiki description on Cloud", i)
					}
					md = desc
				default:
					t.Fatalf("%d: description %T", i, f["description"])
				}
				if !strings.Contains(md, "View the alert in alertbridge") || !strings.Contains(md, "https://ab.example/alerts/") {
					t.Errorf("%d: no link to the alert's page:\n%s", i, md)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := client.CreateIssue(ctx, f, nil)
				cancel()
				if err != nil {
					t.Fatalf("%d: creating the issue from the rendered fields: %v", i, err)
				}
			}
			if errs := sb.ValidationErrors(); len(errs) > 0 {
				t.Fatalf("create requests break the OpenAPI spec: %v", errs)
			}

			// The templates saw each alert's own fields, labels and annotations.
			wantSummaries := []string{"[INFO] AlertbridgeTest", "[MEDIUM] high_memory_load", "[INFO] JustATestAlert_1",
				"[INFO] New Alert: Suspicious traffic detected from [123.123.123.123]"}
			for i, f := range []map[string]any{sample[0], am[0], group[2], panther[0]} {
				if f["summary"] != wantSummaries[i] {
					t.Errorf("summary %q, want %q", f["summary"], wantSummaries[i])
				}
			}
			labels, _ := json.Marshal(sample[0]["labels"])
			if !strings.HasPrefix(string(labels), `["security-detection","team-security","sev-info","alertbridge-`) {
				t.Errorf("sample labels %s", labels)
			}
			if md := fmt.Sprint(group[2]["description"]); !strings.Contains(md, "prometheus") || strings.Contains(md, "nginx") {
				t.Errorf("the third alert's description is not its own:\n%s", md)
			}
			if sample[0]["customfield_10010"] != "security" || panther[0]["customfield_10010"] != "Monitor Suspicious IPs" {
				t.Errorf("custom field %v, %v", sample[0]["customfield_10010"], panther[0]["customfield_10010"])
			}
			if is := sb.Issues(); len(is) != len(all) {
				t.Fatalf("%d issues from %d renders", len(is), len(all))
			}
		})
	}
}

// The default description, rendered for a Panther alert, links to the
// alert's page in alertbridge and shows Panther's link as the source.
func TestTemplateRenderDefaultLinks(t *testing.T) {
	pantherPayload := upstream.Path(t, "alert-payloads", "panther", "custom_webhook.example-payload.json")
	t.Setenv("JIRA_TOKEN", "x")
	cfg := writeConfig(t, `
server: {public_url: "https://ab.example/"}
destinations:
  - {name: j, type: jira, jira: {url: "sandbox:", deployment: datacenter, project: SEC}}
`)
	f := renderFields(t, "--config", cfg, "j", "--alert", pantherPayload)
	desc, _ := f[0]["description"].(string)
	for _, want := range []string{
		"[View the alert in alertbridge|https://ab.example/alerts/b90c19e66e160e194a5b3b94ec27fb7c]",
		"* *Source:* [https://runpanther.io/alerts/b90c19e66e160e194a5b3b94ec27fb7c]",
		"* *Alert ID:* {{b90c19e66e160e194a5b3b94ec27fb7c}}",
	} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
}

func TestTemplateRenderErrors(t *testing.T) {
	t.Setenv("JIRA_TOKEN", "x")
	good := writeConfig(t, `
destinations:
  - {name: j, type: jira, jira: {url: "sandbox:", deployment: cloud, project: SEC, summary: "{{ .Context.labels.team }}"}}
  - {name: hook, type: webhook, webhook: {url: "https://hooks.example.com/a"}}
`)
	panther := writeConfig(t, `{"alertId": "a-1", "title": "t", "severity": "low"}`)
	bad := writeConfig(t, `{"alertId": "a-1"}`)
	badAM := writeConfig(t, `{"version": "4", "alerts": [{"status": "firing", "labels": {}}]}`)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--config", good}, 2, "missing DESTINATION"},
		{[]string{"--config", good, "j", "--deployment", "server"}, 2, "--deployment: want cloud or datacenter"},
		{[]string{"j"}, 2, "--config FILE is required"},
		{[]string{"--config", good, "nope"}, 1, `no destination named "nope"`},
		{[]string{"--config", good, "hook"}, 1, "hook is a webhook destination"},
		{[]string{"--config", good, "j", "--alert", "/nonexistent.json"}, 1, "/nonexistent.json"},
		{[]string{"--config", good, "j", "--alert", bad}, 1, "title"},
		{[]string{"--config", good, "j", "--alert", badAM}, 1, "fingerprint"},
		// The sample has labels; a Panther alert has none, so the template
		// fails for it, and render says so rather than printing a fallback.
		{[]string{"--config", good, "j", "--alert", panther}, 1, "template: summary:1:"},
	} {
		code, out, errOut := runCLI(append([]string{"template", "render"}, tc.args...)...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s", tc.args, code, out, errOut)
		}
	}
	if code, out, _ := runCLI("template", "render", "--config", good, "j"); code != 0 || !strings.Contains(out, `"summary": "security"`) {
		t.Errorf("sample: exit %d\n%s", code, out)
	}
	if code, out, errOut := runCLI("template"); code != 2 || out != "" || !strings.Contains(errOut, "missing command") {
		t.Errorf("template: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCLI("template", "--help"); code != 0 || !strings.Contains(out, "render") {
		t.Errorf("template --help: exit %d\n%s", code, out)
	}
}

// check-config reports a template that fails on the sample alert at its
// key path and line, among the configuration's other problems.
func TestCheckConfigTemplateErrors(t *testing.T) {
	t.Setenv("JIRA_TOKEN", "x")
	cfg := writeConfig(t, `destinations:
  - name: sec-jira
    type: jira
    jira:
      url: "sandbox:"
      project: SEC
      summary: "[{{ .Severity }}] {{ .Titel }}"
      description: "{{ .Title | upper }}"
      labels: [ok, "{{ .Name }}"]
      custom_fields: {customfield_10010: {value: "{{ .Labels.team | toUpper }}", other: "{{ .Nope }}"}}
    severities: [HGIH]
`)
	code, out, errOut := runCLI("check-config", "--config", cfg)
	if code != 1 || out != "" {
		t.Fatalf("check-config: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		`destinations[0].jira.summary: template: summary:1:21: executing "summary" at <.Titel>: can't evaluate field Titel in type *jiradest.Data (rendering a sample alert) (line 7)`,
		`destinations[0].jira.description: template does not parse: template: description:1: function "upper" not defined (line 8)`,
		`destinations[0].jira.labels[1]: label "Test Alert" contains a space, which Jira does not allow (rendering a sample alert) (line 9)`,
		`destinations[0].jira.custom_fields.customfield_10010.other: template: custom_fields.customfield_10010.other:1:3: executing "custom_fields.customfield_10010.other" at <.Nope>: can't evaluate field Nope`,
		`destinations[0].severities[0]: unknown severity "HGIH"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check-config output lacks\n  %s\nin\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "customfield_10010.value") || bytes.Count([]byte(errOut), []byte("\n")) != 6 {
		t.Errorf("unexpected problems:\n%s", errOut)
	}
}

// For a destination with an issue per group, "template render" prints the
// group's issue: the sample group, or the group of a notification, with
// its alerts listed, as valid ADF and wiki markup that Jira takes.
func TestTemplateRenderGroup(t *testing.T) {
	amGroup := upstream.Path(t, "alert-payloads", "alertmanager", "card-grafana-inspired-payload.json")
	t.Setenv("JIRA_TOKEN", sandbox.DefaultUser.Token)
	for _, dep := range []jira.Deployment{jira.DeploymentCloud, jira.DeploymentDataCenter} {
		t.Run(string(dep), func(t *testing.T) {
			sb, err := sandbox.Start(sandbox.Options{Deployment: dep, Validate: openapicheck.Validate(t, dep)})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			user := sandbox.DefaultUser.Email
			if dep == jira.DeploymentDataCenter {
				user = sandbox.DefaultUser.Name
			}
			cfg := writeConfig(t, fmt.Sprintf(`
server: {public_url: "https://ab.example"}
destinations:
  - name: grouped
    type: jira
    jira: {url: %s, deployment: %s, email: %s, token_env: JIRA_TOKEN, project: SEC, issue_per: group, sync: {status: one-way}}
`, sb.URL(), map[jira.Deployment]string{jira.DeploymentCloud: "cloud", jira.DeploymentDataCenter: "datacenter"}[dep], user))
			client := jira.New(jira.Config{BaseURL: sb.URL(), Deployment: dep, User: user, Token: sandbox.DefaultUser.Token, Timeout: 5 * time.Second})
			sample := renderFields(t, "--config", cfg, "grouped")
			group := renderFields(t, "--config", cfg, "grouped", "--alert", amGroup)
			if len(sample) != 1 || len(group) != 1 {
				t.Fatalf("%d and %d field sets, want one issue each", len(sample), len(group))
			}
			for i, tc := range []struct {
				f       map[string]any
				summary string
				says    []string
			}{
				{sample[0], "[INFO] AlertbridgeTest", []string{"1 of 2 firing", "alertbridge test alert on alertbridge-1:8080", "instance=alertbridge-2:8080"}},
				{group[0], "[INFO] JustATestAlert_1", []string{"3 of 3 firing", "Ratio(Max(Working Set, RSS)", "https://ab.example/alerts/group-"}},
			} {
				if tc.f["summary"] != tc.summary {
					t.Errorf("%d: summary %q, want %q", i, tc.f["summary"], tc.summary)
				}
				var md string
				if desc, ok := tc.f["description"].(map[string]any); ok {
					if err := openapicheck.For(t, dep).ValidateADF(desc); err != nil {
						t.Fatalf("%d: the description breaks the ADF schema: %v", i, err)
					}
					raw, _ := json.Marshal(desc)
					doc, err := adf.Parse(raw)
					if err != nil {
						t.Fatal(err)
					}
					md = adf.ToMarkdown(doc)
				} else {
					md = fmt.Sprint(tc.f["description"])
				}
				for _, s := range tc.says {
					if !strings.Contains(md, s) {
						t.Errorf("%d: the description does not say %q:\n%s", i, s, md)
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := client.CreateIssue(ctx, tc.f, nil)
				cancel()
				if err != nil {
					t.Fatalf("%d: creating the issue from the rendered fields: %v", i, err)
				}
			}
			if errs := sb.ValidationErrors(); len(errs) > 0 {
				t.Fatalf("create requests break the OpenAPI spec: %v", errs)
			}
		})
	}
}
