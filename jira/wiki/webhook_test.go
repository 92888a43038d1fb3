package wiki

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/alertbridge/alertbridge/internal/upstream"
)

// wikiBodies collects the wiki-markup strings of a webhook payload: comment
// bodies, issue descriptions and description changes in the changelog.
func wikiBodies(v any, parentKey string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		if f, _ := v["field"].(string); f == "description" {
			for _, k := range []string{"fromString", "toString"} {
				if s, ok := v[k].(string); ok && s != "" {
					*out = append(*out, s)
				}
			}
		}
		for k, child := range v {
			if s, ok := child.(string); ok {
				if (k == "body" && parentKey != "") || (k == "description" && parentKey == "fields") {
					*out = append(*out, s)
				}
				continue
			}
			wikiBodies(child, k, out)
		}
	case []any:
		for _, child := range v {
			wikiBodies(child, parentKey, out)
		}
	}
}

// letters returns the letters and digits of s: its text without markup.
func letters(s string) []rune {
	var out []rune
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, r)
		}
	}
	return out
}

// keptIn reports whether the text of in appears, in order, in out.
func keptIn(in, out []rune) bool {
	j := 0
	for _, r := range in {
		for j < len(out) && out[j] != r {
			j++
		}
		if j == len(out) {
			return false
		}
		j++
	}
	return true
}

// TestWebhookBodies converts every wiki body in the captured Jira webhooks
// and checks that no word of text is lost on the way.
func TestWebhookBodies(t *testing.T) {
	dir := upstream.Path(t, "jira-webhooks")
	var bodies int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var payload any
		if err := json.Unmarshal(data, &payload); err != nil {
			t.Logf("%s: not JSON (%v), skipped", path, err)
			return nil
		}
		var found []string
		wikiBodies(payload, "", &found)
		for _, body := range found {
			bodies++
			md := ToMarkdown(body)
			// A mention's "accountid:" prefix is markup, not text.
			text := strings.ReplaceAll(body, "[~accountid:", "[~")
			if !keptIn(letters(text), letters(md)) {
				t.Errorf("%s: text lost\nwiki: %q\nmd:   %q", filepath.Base(path), body, md)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bodies < 50 {
		t.Errorf("found only %d wiki bodies in %s; the extraction is broken", bodies, dir)
	}
}

func TestWebhookExamples(t *testing.T) {
	read := func(name string) map[string]any {
		data, err := os.ReadFile(upstream.Path(t, "jira-webhooks", name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	field := func(v map[string]any, path ...string) string {
		var cur any = v
		for _, p := range path {
			cur = cur.(map[string]any)[p]
		}
		return cur.(string)
	}
	tests := []struct {
		file string
		path []string
		want string
	}{
		{"mattermost-plugin-jira/webhook-issue-comment-created-indentation.json", []string{"comment", "body"},
			"@Test creating a test comment\n\na second line for the test comment"},
		{"mattermost-plugin-jira/webhook-server-issue-updated-commented-3.json", []string{"comment", "body"},
			"This is a test comment. We should act on it right away. cc: @SomeOtherUser"},
		{"mattermost-plugin-jira/webhook-server-issue-updated-commented-1.json", []string{"issue", "fields", "description"},
			"**Creating Quick Filters**\n\nYou can add your own Quick Filters in the board configuration (select **Board > Configure**)"},
		{"mattermost-plugin-jira/webhook-server-issue-updated-commented-2.json", []string{"issue", "fields", "description"},
			"test\n\n*Issue created from a [message in Mattermost](https://chrisp.ngrok.io/testteam/pl/449w553cajrbfewz581uoxmb8o)*."},
		{"buldygins-jira-bot/cloud-2021-issue_updated-issue_generic-status-49480317.json", []string{"issue", "fields", "description"},
			"Дублирующие пинги сейчас:\n\n" +
				"- в канал импортированы последние 100 сообщений, канал не активен, сообщения не приходят, но канал все равно опрашивается в цикле\n\n" +
				"Должно быть:\n\n" +
				"- выгрузка всей истории сообщений, инструмент - api messagesHistory, плюс:\n" +
				"  - сохранение в базе номера последнего сообщения, выгруженного в предыдущей итерации\n" +
				"  - если, в ходе импорта по 100 сообщений, достигнут сохраненного номера, то импорт останавливается"},
		{"mattermost-plugin-jira/webhook-cloud-comment-deleted.json", []string{"comment", "body"}, "wd\n\ndwd"},
	}
	for _, tt := range tests {
		body := field(read(tt.file), tt.path...)
		if got := ToMarkdown(body); got != tt.want {
			t.Errorf("%s %v:\nwiki %q\ngot  %q\nwant %q", tt.file, tt.path, body, got, tt.want)
		}
	}
}
