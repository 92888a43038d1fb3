package adf

import (
	"encoding/json"
	"testing"
)

// JSON fragments for readable expectations.
const (
	strongM = `{"type":"strong"}`
	emM     = `{"type":"em"}`
	strikeM = `{"type":"strike"}`
	codeM   = `{"type":"code"}`
)

func txt(s string, marks ...string) string {
	out := `{"type":"text","text":` + quote(s)
	if len(marks) > 0 {
		out += `,"marks":[` + join(marks) + `]`
	}
	return out + `}`
}

func para(inline ...string) string {
	if len(inline) == 0 {
		return `{"type":"paragraph"}`
	}
	return `{"type":"paragraph","content":[` + join(inline) + `]}`
}

func linkM(href string) string { return `{"type":"link","attrs":{"href":` + quote(href) + `}}` }

const brk = `{"type":"hardBreak"}`

func item(blocks ...string) string { return `{"type":"listItem","content":[` + join(blocks) + `]}` }

func bullets(items ...string) string { return `{"type":"bulletList","content":[` + join(items) + `]}` }

func join(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestFromMarkdown(t *testing.T) {
	tests := []struct {
		name, md string
		want     string // the doc's content array, without brackets
	}{
		{"empty", "", ``},
		{"blank", "  \n\n", ``},
		{"paragraph", "hello", para(txt("hello"))},
		{"paragraphs", "a\n\n\n\nb", para(txt("a")) + `,` + para(txt("b"))},
		{"soft break is a space", "a\nb", para(txt("a b"))},
		{"hard break spaces", "a  \nb", para(txt("a"), brk, txt("b"))},
		{"hard break backslash", "a\\\nb", para(txt("a"), brk, txt("b"))},
		{"bold", "**b** __b2__", para(txt("b", strongM), txt(" "), txt("b2", strongM))},
		{"italic", "*i* _i2_", para(txt("i", emM), txt(" "), txt("i2", emM))},
		{"strikethrough", "~~s~~ ~t~", para(txt("s", strikeM), txt(" "), txt("t", strikeM))},
		{"inline code", "a `c` b", para(txt("a "), txt("c", codeM), txt(" b"))},
		{"code with backtick", "`` a`b ``", para(txt("a`b", codeM))},
		{"nested emphasis", "**a *b* c**", para(txt("a ", strongM), txt("b", strongM, emM), txt(" c", strongM))},
		{"strong em", "***x***", para(txt("x", emM, strongM))},
		{"code drops emphasis", "**a `c` b**", para(txt("a ", strongM), txt("c", codeM), txt(" b", strongM))},
		{"link", `[t](https://x.test/a "T")`, para(`{"type":"text","text":"t","marks":[{"type":"link","attrs":{"href":"https://x.test/a","title":"T"}}]}`)},
		{"link with marks and code", "[**b** `c`](https://x.test/)", para(txt("b", linkM("https://x.test/"), strongM), txt(" ", linkM("https://x.test/")), txt("c", linkM("https://x.test/"), codeM))},
		{"link destination escapes", `[t](<https://x.test/a b> ) [u](https://x.test/\(1\)&amp;)`, para(txt("t", linkM("https://x.test/a b")), txt(" "), txt("u", linkM("https://x.test/(1)&")))},
		{"reference link", "[ref]\n\n[ref]: https://x.test/r", para(txt("ref", linkM("https://x.test/r")))},
		{"autolink", "<https://x.test>", para(txt("https://x.test", linkM("https://x.test")))},
		{"email autolink", "<a@b.test>", para(txt("a@b.test", linkM("mailto:a@b.test")))},
		{"bare URL stays text", "see https://x.test", para(txt("see https://x.test"))},
		{"image becomes link", "![alt](https://x.test/i.png)", para(txt("alt", linkM("https://x.test/i.png")))},
		{"image without alt", "![](https://x.test/i.png)", para(txt("https://x.test/i.png", linkM("https://x.test/i.png")))},
		{"linked image", "[![alt](https://x.test/i.png)](https://x.test/)", para(txt("alt", linkM("https://x.test/")))},
		{"escapes and entities", `\*lit\* 1\. \# &amp; &copy; \&amp; &#65; &bogus;`, para(txt("*lit* 1. # & © &amp; A &bogus;"))},
		{"intraword underscore", "snake_case_name", para(txt("snake_case_name"))},
		{"inline html is text", "<b>x</b>", para(txt("<b>x</b>"))},
		{"html block is text", "<div>\nhi\n</div>", para(txt("<div>"), brk, txt("hi"), brk, txt("</div>"))},
		{"atx headings", "# 1\n## 2\n### 3\n#### 4\n##### 5\n###### 6",
			`{"type":"heading","attrs":{"level":1},"content":[` + txt("1") + `]},` +
				`{"type":"heading","attrs":{"level":2},"content":[` + txt("2") + `]},` +
				`{"type":"heading","attrs":{"level":3},"content":[` + txt("3") + `]},` +
				`{"type":"heading","attrs":{"level":4},"content":[` + txt("4") + `]},` +
				`{"type":"heading","attrs":{"level":5},"content":[` + txt("5") + `]},` +
				`{"type":"heading","attrs":{"level":6},"content":[` + txt("6") + `]}`},
		{"setext heading", "Title *x*\n===", `{"type":"heading","attrs":{"level":1},"content":[` + txt("Title ") + `,` + txt("x", emM) + `]}`},
		{"empty heading", "#", `{"type":"heading","attrs":{"level":1}}`},
		{"fenced code", "```go\nfmt.Println(\"*\")\n\n```", `{"type":"codeBlock","attrs":{"language":"go"},"content":[` + txt("fmt.Println(\"*\")\n") + `]}`},
		{"fenced code info words", "~~~ python startline=3\nx\n~~~", `{"type":"codeBlock","attrs":{"language":"python"},"content":[` + txt("x") + `]}`},
		{"empty fenced code", "```\n```", `{"type":"codeBlock"}`},
		{"indented code", "    a\n      b\n", `{"type":"codeBlock","content":[` + txt("a\n  b") + `]}`},
		{"rule", "a\n\n---\n\n***", para(txt("a")) + `,{"type":"rule"},{"type":"rule"}`},
		{"blockquote", "> q\n> r\n>\n> s", `{"type":"blockquote","content":[` + para(txt("q r")) + `,` + para(txt("s")) + `]}`},
		{"blockquote repairs", "> # h\n> > nested\n>\n> ---", `{"type":"blockquote","content":[` + para(txt("h", strongM)) + `,` + para(txt("nested")) + `]}`},
		{"empty blockquote", ">", ``},
		{"bullet list", "- a\n- b", bullets(item(para(txt("a"))), item(para(txt("b"))))},
		{"nested lists", "- a\n  - b\n    1. c",
			bullets(item(para(txt("a")), bullets(item(para(txt("b")), `{"type":"orderedList","content":[`+item(para(txt("c")))+`]}`))))},
		{"ordered list", "1. a\n2. b", `{"type":"orderedList","content":[` + item(para(txt("a"))) + `,` + item(para(txt("b"))) + `]}`},
		{"ordered list start", "3) a", `{"type":"orderedList","attrs":{"order":3},"content":[` + item(para(txt("a"))) + `]}`},
		{"ordered list from zero", "0. a", `{"type":"orderedList","attrs":{"order":0},"content":[` + item(para(txt("a"))) + `]}`},
		{"loose list item", "- a\n\n  b", bullets(item(para(txt("a")), para(txt("b"))))},
		{"empty item", "-", bullets(item(para()))},
		{"item starting with code", "- ```\n  x\n  ```", bullets(item(para(), `{"type":"codeBlock","content":[`+txt("x")+`]}`))},
		{"item repairs", "- # h\n- > q\n\n  ---", bullets(item(para(txt("h", strongM))), item(para(txt("q"))))},
		{"task list is text", "- [x] done", bullets(item(para(txt("[x] done"))))},
		{"table is text", "a | b\n--|--\n1 | 2", para(txt("a | b --|-- 1 | 2"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := FromMarkdown(tt.md)
			if got, want := mustJSON(t, doc), docJSON(tt.want); got != want {
				t.Errorf("FromMarkdown(%q)\ngot  %s\nwant %s", tt.md, got, want)
			}
			requireValid(t, doc)
		})
	}
}
