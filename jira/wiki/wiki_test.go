package wiki

import (
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/jira/adf"
)

func TestFromMarkdown(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"empty", "", ""},
		{"paragraphs", "one\n\ntwo", "one\n\ntwo"},
		{"soft break is a space", "a\nb", "a b"},
		{"hard break", "a  \nb\\\nc", "a\nb\nc"},
		{"bold italic strike", "**b** *i* _j_ ~~s~~", "*b* _i_ _j_ -s-"},
		{"nested", "**bold *both*** *italic*", "*bold _both_* _italic_"},
		{"inside words", "un*believ*able and a**b**c", "un{_}believ{_}able and a{*}b{*}c"},
		{"punctuation edges", "(**b**), *i*.", `(*b*), _i_.`},
		{"inline code", "run `rm -rf /` now, `{x}`", "run {{rm \\-rf /}} now, {{\\{x\\}}}"},
		{"link", "[text](https://x.test/a)", "[text|https://x.test/a]"},
		{"link title dropped", `[text](https://x.test "T")`, "[text|https://x.test]"},
		{"link with marks", "[**bold** `code`](https://x.test)", "[*bold* {{code}}|https://x.test]"},
		{"link needing escapes", "[a|b](<https://x.test/a|b]c d>)", "[a\\|b|https://x.test/a%7Cb%5Dc%20d]"},
		{"autolink", "<https://x.test/p>", "[https://x.test/p]"},
		{"email", "<sec@x.test>", "[sec@x.test|mailto:sec@x.test]"},
		{"image", "![graph](https://x.test/g.png)", "[graph|https://x.test/g.png]"},
		{"headings", "# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six *x*",
			"h1. One\n\nh2. Two\n\nh3. Three\n\nh4. Four\n\nh5. Five\n\nh6. Six _x_"},
		{"code block", "```go\nfmt.Println(\"*x*\")\n```", "{code:go}\nfmt.Println(\"*x*\")\n{code}"},
		{"code block without language", "```\nplain {text}\n```", "{noformat}\nplain {text}\n{noformat}"},
		{"code block with odd language", "```c{x}\ny\n```", "{noformat}\ny\n{noformat}"},
		{"code holding its closing tag", "```go\n{code}\n```\n\n```\n{noformat}\n```", "{noformat}\n{code}\n{noformat}\n\n{code:none}\n{noformat}\n{code}"},
		{"rule", "a\n\n---\n\nb", "a\n\n----\n\nb"},
		{"quote", "> q\n>\n> r", "{quote}\nq\n\nr\n{quote}"},
		{"quote with list and code", "> - a\n>\n> ```sh\n> ls\n> ```", "{quote}\n* a\n\n{code:sh}\nls\n{code}\n{quote}"},
		{"bullets", "- a\n- b", "* a\n* b"},
		{"numbers", "1. a\n2. b", "# a\n# b"},
		{"nested lists", "- a\n  - b\n    1. c\n- d\n  1. e\n     - f", "* a\n** b\n**# c\n* d\n*# e\n*#* f"},
		{"item with paragraphs and code", "- a\n\n  b\n- ```\n  x\n  ```\n- c", "* a\\\\b\n*\n{noformat}\nx\n{noformat}\n* c"},
		{"item with break", "- a\\\n  b", "* a\\\\b"},
		{"escaping", `\*a\* \_b\_ \~c\~ {d} [e] f|g -h- +i+ ^j^ ??k?? !l! m\n`, `\*a\* \_b\_ \~c\~ \{d\} \[e\] f\|g \-h\- \+i\+ \^j\^ \?\?k\?\? \!l! m\n`},
		{"line starts", "\\# a\\\n\\- b\\\nh1. c\\\nbq. d\\\n\\* e\\\n\\---", "\\# a\n\\- b\nh1&#46; c\nbq&#46; d\n\\* e\n\\-\\-\\-"},
		{"emoticons and dashes", "(x) (y) :) a -- b", `\(x) \(y) :) a \-\- b`},
		{"entities", "&copy; \\&amp;", "© &amp;amp;"},
		{"plain words", "snake_case 2024-01-02 a+b C:\\dir", "snake_case 2024-01-02 a+b C:\\dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromMarkdown(tt.md); got != tt.want {
				t.Errorf("FromMarkdown(%q)\ngot  %q\nwant %q", tt.md, got, tt.want)
			}
		})
	}
}

func TestToMarkdown(t *testing.T) {
	tests := []struct{ name, wiki, want string }{
		{"empty", "", ""},
		{"plain", "plain", "plain"},
		{"newline is a line break", "a\nb", "a\\\nb"},
		{"CRLF", "a\r\nb\r\n\r\nc\rd", "a\\\nb\n\nc\\\nd"},
		{"double backslash", `a\\b`, "a\\\nb"},
		{"indentation", "  indented\n\tline", "indented\\\nline"},
		{"text effects", "*bold* _it_ -strike- +under+ ^sup^ ~sub~ ??cite?? {{mono}}", "**bold** *it* ~~strike~~ under sup sub *cite* `mono`"},
		{"braced effects", "a{*}b{*}c x{_}y{_}z", "a**b**c x*y*z"},
		{"nested effects", "*bold _both_* _it_", "**bold *both*** *it*"},
		{"effects need word edges", "snake_case_name a*b*c 2024-01-02 x-y-z", "snake_case_name a\\*b\\*c 2024-01-02 x-y-z"},
		{"lone delimiters", "a * b * c, 5 - 3 - 1, *unclosed", "a \\* b \\* c, 5 - 3 - 1, \\*unclosed"},
		{"effects stop at line ends", "*a\nb*", "\\*a\\\nb\\*"},
		{"mono keeps markup", "{{*x* [y]}}", "`*x* [y]`"},
		{"link", "[text|https://x.test/a]", "[text](https://x.test/a)"},
		{"bare link", "[https://x.test/a]", "<https://x.test/a>"},
		{"link with tooltip and effects", "[*bold* link|https://x.test|tip]", "[**bold** link](https://x.test)"},
		{"mailto", "[mailto:a@b.test] [write|mailto:a@b.test]", "<a@b.test> [write](mailto:a@b.test)"},
		{"brackets that are not links", "[PROJ-123] [ERROR] [", "\\[PROJ-123\\] \\[ERROR\\] \\["},
		{"mentions", "[~accountid:5b10a2844c20165700ede21g] and [~jsmith] and [Ann|~ann]", "@5b10a2844c20165700ede21g and @jsmith and @Ann"},
		{"attachment and anchor", "[^log.txt] [#top] [see|^a.png]", "log.txt top see"},
		{"images dropped", "before !screenshot.png! after !https://x.test/a.png|thumbnail! end", "before  after  end"},
		{"not images", "Hi! wow!! a!b!", "Hi! wow!! a!b!"},
		{"headings", "h1. One\nh2. Two\nh3. *Three*\nh4. Four\nh5. Five\nh6. Six", "# One\n\n## Two\n\n### **Three**\n\n#### Four\n\n##### Five\n\n###### Six"},
		{"bq", "bq. quoted *text*", "> quoted **text**"},
		{"quote", "{quote}\nfirst\n\nsecond\n{quote}\nafter", "> first\n>\n> second\n\nafter"},
		{"quote on one line", "before {quote}inline quote{quote} after", "before\n\n> inline quote\n\nafter"},
		{"code", "{code:java}\nint x = 1; // *not bold*\n{code}", "```java\nint x = 1; // *not bold*\n```"},
		{"code parameters", "{code:title=A.java|borderStyle=solid}\na\n{code}\n{code:xml|title=x}\n<b/>\n{code}\n{code:language=go}\nb\n{code}",
			"```\na\n```\n\n```xml\n<b/>\n```\n\n```go\nb\n```"},
		{"noformat", "{noformat}\n*raw* {code}\n{noformat}", "```\n*raw* {code}\n```"},
		{"code mid line", "see {code}x{code} more", "see\n\n```\nx\n```\n\nmore"},
		{"unclosed code", "{code}\nrest\nof doc", "```\nrest\nof doc\n```"},
		{"code inside quote", "{quote}\n{code}\n{quote}\n{code}\n{quote}", "> ```\n> {quote}\n> ```"},
		{"lists", "* a\n** b\n*# c\n* d", "- a\n  - b\n\n  1. c\n- d"},
		{"numbered", "# one\n# two\n#* sub", "1. one\n2. two\n   - sub"},
		{"dash list", "- dash item\n- second", "- dash item\n- second"},
		{"skipped level", "*** deep", "- - - deep"},
		{"list kinds switch", "* a\n# b", "- a\n\n1. b"},
		{"code under item", "* a\n{code}\nx\n{code}\n* b", "- a\n\n  ```\n  x\n  ```\n- b"},
		{"list ends at text", "* a\ntext", "- a\n\ntext"},
		{"rule", "a\n----\nb", "a\n\n---\n\nb"},
		{"table", "||h1||h2||\n|a|[l|https://x.test]|\n|c|{{d|e}}|", "h1\\\nh2\n\na\\\n[l](https://x.test)\n\nc\\\n`d|e`"},
		{"panel", "{panel:title=Note|borderStyle=dashed}\ninside *it*\n{panel}", "**Note**\n\ninside **it**"},
		{"color", "{color:red}red text{color} and {color:#00ff00}green{color}", "red text and green"},
		{"unknown macro stays", "{foo}bar {\"json\": 1}", "{foo}bar {\"json\": 1}"},
		{"escapes", `\*not bold\* \{x\} \[y\] a\\`, "\\*not bold\\* {x} \\[y\\] a"},
		{"entities", "&#92; &amp; &copy; &bogus; &#x41;", "\\ & © \\&bogus; A"},
		{"emoticons and dashes", ":) (y) a -- b --- c", ":) (y) a -- b --- c"},
		{"markdown specials", "1. not a list\n> not a quote\n`tick` <b>", "1\\. not a list\\\n\\> not a quote\\\n\\`tick\\` \\<b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToMarkdown(tt.wiki); got != strings.TrimRight(tt.want, "\n") {
				t.Errorf("ToMarkdown(%q)\ngot  %q\nwant %q", tt.wiki, got, tt.want)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"{code} [link|x] *b* _i_ -s- +u+ ^p^ ~b~ ??c?? !i! a|b", `\{code\} \[link\|x\] \*b\* \_i\_ \-s\- \+u\+ \^p\^ \~b\~ \?\?c\?\? \!i! a\|b`},
		{"snake_case 2024-01-02 a+b what? Hi! x^2", `snake_case 2024-01-02 a+b what? Hi! x^2`},
		{`C:\dir \\share a\*`, `C:\dir &#92;\share a&#92;\*`},
		{"&amp; &#42; & ;", "&amp;amp; &amp;#42; & ;"},
		{"(x) (i) (see)", `\(x) \(i) (see)`},
		{"# one\nh2. two\nbq. three\n* four\n- five\n|six\n----", "\\# one\nh2&#46; two\nbq&#46; three\n\\* four\n\\- five\n\\|six\n\\-\\-\\-\\-"},
		{"a\r\nb", "a\nb"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q)\ngot  %q\nwant %q", tt.in, got, tt.want)
		}
		// Whatever Escape writes must read back as the text it was given.
		in := strings.ReplaceAll(tt.in, "\r\n", "\n")
		if back := plainText(parse(Escape(tt.in))); back != in {
			t.Errorf("parse(Escape(%q)) = %q", tt.in, back)
		}
	}
}

// plainText returns the text of a parsed document: breaks as "\n",
// blocks separated by a blank line. It fails on formatting, which Escape's
// output must not produce.
func plainText(doc *adf.Node) string {
	var blocks []string
	for _, b := range doc.Content {
		var s strings.Builder
		for _, n := range b.Content {
			switch {
			case n.Type == adf.TypeHardBreak:
				s.WriteString("\n")
			case n.Type == adf.TypeText && len(n.Marks) == 0:
				s.WriteString(n.Text)
			default:
				s.WriteString("<" + n.Type + " with marks>")
			}
		}
		if b.Type != adf.TypeParagraph {
			s.WriteString("<" + b.Type + ">")
		}
		blocks = append(blocks, s.String())
	}
	return strings.Join(blocks, "\n\n")
}

// wikiCorpus is Markdown in ToMarkdown's form using only what wiki markup
// can hold; each must survive Markdown → wiki → Markdown.
func wikiCorpus() []string {
	return []string{
		"plain paragraph",
		"first paragraph\n\nsecond paragraph",
		"line one\\\nline two",
		"**bold** and *italic* and ~~struck~~ and `code`",
		"**bold with *italic* inside** and *italic with **bold** inside*",
		"un*believ*able and x**y**z",
		"(**bold**), *italic*. ~~gone~~!",
		"[a link](https://example.com/path?q=1&r=2) and [**bold** link](https://example.com)",
		"autolink <https://example.com/x> and mail <sec@example.com>",
		"[`code link`](https://example.com)",
		"# Heading 1\n\n## Heading 2\n\n### Heading 3\n\n#### Heading 4\n\n##### Heading 5\n\n###### Heading 6",
		"# Heading with **bold** and `code`",
		"```go\nfunc main() {\n\tfmt.Println(\"hi *there*\")\n}\n```",
		"```\nno language {code}\n\n  indented\n```",
		"above\n\n---\n\nbelow",
		"> quoted\n>\n> second paragraph",
		"> quote with list:\n>\n> - a\n> - b\n>\n> ```sh\n> echo hi\n> ```",
		"- one\n- two\n- three",
		"1. one\n2. two\n3. three",
		"- a\n  - b\n    - c\n- d",
		"1. a\n   - b\n   - c\n2. d\n   1. e",
		"- item with code:\n\n  ```json\n  {\"a\": 1}\n  ```\n- after",
		"- **bold** item\n- [link](https://example.com) item\n- `code` item",
		"\\*not bold\\* \\~not struck\\~ \\`not code\\` \\[not a link\\]",
		"{braces} and a|b and -dashes- and +plus+ and ^caret^ and ??q?? and !bang!",
		"\\# not a heading\\\nh1. not a heading\\\n\\- not a list\\\n1\\. not a list",
		"snake_case_name and C:\\Windows\\path and \\\\\\share and (x) and :)",
		"a & b, \\&amp; stays, 50% off!",
		"emoji 😀 and ünïcödé and 日本語",
		"## Alert: Suspicious login\n\n**Severity:** HIGH\\\n**Rule:** `aws_console_root_login`\n\n> Root user signed in from 203.0.113.7\n\n- [Runbook](https://runbooks.example.com/root-login)\n- Alert ID: 42\n\n```json\n{\n  \"user\": \"root\",\n  \"ip\": \"203.0.113.7\"\n}\n```",
	}
}

// normalizeMD removes only whitespace that does not change what Markdown
// means.
func normalizeMD(s string) string {
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

func TestWikiRoundTrip(t *testing.T) {
	for _, md := range wikiCorpus() {
		w := FromMarkdown(md)
		got := ToMarkdown(w)
		if normalizeMD(got) != normalizeMD(md) {
			t.Errorf("Markdown → wiki → Markdown changed the text\nin:\n%s\nwiki:\n%s\nout:\n%s", md, w, got)
		}
	}
}

// TestLiteralCharacters checks that every ASCII punctuation character, alone
// and where wiki markup gives it meaning, stays literal text through Escape
// and through rendering, and back.
func TestLiteralCharacters(t *testing.T) {
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	var texts []string
	for _, c := range punct {
		s := string(c)
		texts = append(texts, s, s+s, s+s+s+s, s+"x", "x"+s, "x"+s+"x", s+" x", "x "+s, s+"x"+s, "{"+s+"}")
	}
	texts = append(texts, "h1. x", "bq. x", "----", "* x", "# x", "- x", "|a|b|", "||a||", "{code}x{code}", "{{x}}",
		"[x|y]", "[~x]", "!x.png!", "&amp;", "&#92;", `\\`, `a\`, "(x) (/)", "a -- b --- c", "{color:red}x{color}")
	for _, s := range texts {
		if got := plainText(parse(Escape(s))); got != s {
			t.Errorf("Escape(%q) = %q reads back as %q", s, Escape(s), got)
		}
		w := render(adf.Doc(adf.Paragraph(adf.Text(s))))
		if got := plainText(parse(w)); got != s {
			t.Errorf("text %q renders as %q, which reads back as %q", s, w, got)
		}
	}
}
