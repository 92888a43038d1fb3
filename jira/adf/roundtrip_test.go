package adf

import (
	"strings"
	"testing"
)

// markdownCorpus is Markdown in the form ToMarkdown writes, covering every
// construct the converters support. Each entry must survive Markdown → ADF
// → Markdown unchanged. The wiki package's tests use the same idea.
func markdownCorpus() []string {
	return []string{
		"plain paragraph",
		"first paragraph\n\nsecond paragraph",
		"line one\\\nline two\\\nline three",
		"**bold** and *italic* and ~~struck~~ and `code`",
		"**bold with *italic* inside** and *italic with **bold** inside*",
		"un*believ*able and **a***b* and *a***b**",
		"~~**struck bold**~~ and **~~bold struck~~ tail**",
		"code with ``a`b`` and `` `tick `` and `<html>`",
		"[a link](https://example.com/path?q=1&r=2) and [titled](https://example.com \"The Title\")",
		"[**bold** link](https://example.com) and **[link in bold](https://example.com)**",
		"autolink <https://example.com/x> and mail <sec@example.com>",
		"[`code link`](https://example.com) and [parens](https://example.com/a_\\(b\\))",
		"# Heading 1\n\n## Heading 2\n\n### Heading 3\n\n#### Heading 4\n\n##### Heading 5\n\n###### Heading 6",
		"# Heading with **bold** and `code`",
		"```go\nfunc main() {\n\tfmt.Println(\"hi *there*\")\n}\n```",
		"```\nno language\n\n  indented\n```",
		"````md\n```\nfenced\n```\n````",
		"---",
		"above\n\n---\n\nbelow",
		"> quoted\n>\n> second paragraph",
		"> quote with list:\n>\n> - a\n> - b\n>\n> ```sh\n> echo hi\n> ```",
		"- one\n- two\n- three",
		"1. one\n2. two\n3. three",
		"3. three\n4. four",
		"- a\n  - b\n    - c\n- d",
		"1. a\n   - b\n   - c\n2. d\n   1. e",
		"- item\n\n  second paragraph\n- next",
		"- item with code:\n\n  ```json\n  {\"a\": 1}\n  ```\n- after",
		"- one\n\n* other list\n\n1. numbered\n\n1) other numbered",
		"- **bold** item\n- [link](https://example.com) item\n- `code` item",
		"\\*not bold\\* \\_not italic\\_ \\~not struck\\~ \\`not code\\`",
		"\\[not a link\\](https://example.com) and \\<b>not html\\</b>",
		"\\# not a heading",
		"\\- not a list\\\n\\+ not a list\\\n1\\. not a list\\\n2024\\) not a list",
		"\\> not a quote",
		"snake_case_name and C:\\Windows\\path and \\\\\\share",
		"5 \\* 3 = 15, a & b, \\&amp; stays, 50% off!",
		"emoji 😀 and ünïcödé and 日本語",
		"## Alert: Suspicious login\n\n**Severity:** HIGH\\\n**Rule:** `aws_console_root_login`\n\n> Root user signed in from 203.0.113.7\n\n- [Runbook](https://runbooks.example.com/root-login)\n- Alert ID: 42\n\n```json\n{\n  \"user\": \"root\",\n  \"ip\": \"203.0.113.7\"\n}\n```",
	}
}

// equivalentMarkdown pairs input with the canonical form ToMarkdown writes
// for it; both mean the same document.
func equivalentMarkdown() []struct{ in, out string } {
	return []struct{ in, out string }{
		{"_italic_ __bold__", "*italic* **bold**"},
		{"~struck~", "~~struck~~"},
		{"* a\n* b", "- a\n- b"},
		{"+ a", "- a"},
		{"1) a\n1) b", "1. a\n2. b"},
		{"Setext\n======\n\nTwo\n---", "# Setext\n\n## Two"},
		{"    indented code", "```\nindented code\n```"},
		{"~~~python\nx\n~~~", "```python\nx\n```"},
		{"a  \nb", "a\\\nb"},
		{"soft\nbreak", "soft break"},
		{"___", "---"},
		{"***bold italic***", "***bold italic***"},
		{"[ref link][r]\n\n[r]: https://example.com", "[ref link](https://example.com)"},
		{"![alt](https://example.com/i.png)", "[alt](https://example.com/i.png)"},
		{"<span>x</span>", "\\<span>x\\</span>"},
		{"&copy; &#65;", "© A"},
		{"> # quoted heading", "> **quoted heading**"},
		{"- [ ] task", "- \\[ \\] task"},
		{"a | b\n--|--", "a | b --|--"},
	}
}

// normalizeMD removes only whitespace that does not change what Markdown
// means: trailing spaces on lines (hard breaks are written with "\"), extra
// blank lines, and leading or trailing blank space.
func normalizeMD(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	var out []string
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" && len(out) > 0 && out[len(out)-1] == "" {
			continue // one blank line means as much as several
		}
		out = append(out, l)
	}
	s = strings.Join(out, "\n")
	return strings.TrimSpace(s)
}

// The round trips validate last, so that without the schema (outside CI)
// the comparisons still run before the test is skipped.

func TestMarkdownRoundTrip(t *testing.T) {
	var docs []*Node
	for _, md := range markdownCorpus() {
		doc := FromMarkdown(md)
		docs = append(docs, doc)
		got := ToMarkdown(doc)
		if normalizeMD(got) != normalizeMD(md) {
			t.Errorf("Markdown → ADF → Markdown changed the text\nin:\n%s\nout:\n%s\nADF: %s", md, got, mustJSON(t, doc))
		}
	}
	for _, doc := range docs {
		requireValid(t, doc)
	}
}

func TestEquivalentMarkdown(t *testing.T) {
	var docs []*Node
	defer func() {
		for _, doc := range docs {
			requireValid(t, doc)
		}
	}()
	for _, tt := range equivalentMarkdown() {
		doc := FromMarkdown(tt.in)
		docs = append(docs, doc)
		got := ToMarkdown(doc)
		if normalizeMD(got) != normalizeMD(tt.out) {
			t.Errorf("ToMarkdown(FromMarkdown(%q)) = %q, want %q", tt.in, got, tt.out)
		}
		if again := mustJSON(t, FromMarkdown(got)); again != mustJSON(t, doc) {
			t.Errorf("%q: re-reading the output changed the document\n%s\n%s", tt.in, mustJSON(t, doc), again)
		}
	}
}

// TestLiteralCharactersRoundTrip checks that every ASCII punctuation
// character, alone and in the positions where Markdown gives it meaning,
// stays literal text through ADF and back.
func TestLiteralCharactersRoundTrip(t *testing.T) {
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	var texts []string
	for _, c := range punct {
		s := string(c)
		texts = append(texts, s, s+s, s+s+s, s+"x", "x"+s, "x"+s+"x", s+" x", "x "+s, s+"x"+s, "1"+s+" x", s+s+s+s)
	}
	texts = append(texts, "&amp;", "&#42;", "\\*", "a\\", "[x](y)", "![x](y)", "<http://x>", "**x**", "`x`", "    x", "- - -", "1. x", "# x #")
	for _, s := range texts {
		doc := Doc(Paragraph(Text(s)))
		md := ToMarkdown(doc)
		back := FromMarkdown(md)
		want := Doc(Paragraph(Text(strings.TrimLeft(s, " "))))
		if mustJSON(t, back) != mustJSON(t, want) {
			t.Errorf("text %q → Markdown %q → %s", s, md, mustJSON(t, back))
		}
	}
}
