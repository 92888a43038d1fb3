package adf

import (
	"strconv"
	"testing"
)

func ol(order int, items ...string) string {
	attrs := ""
	if order != 1 {
		attrs = `"attrs":{"order":` + itoa(order) + `},`
	}
	return `{"type":"orderedList",` + attrs + `"content":[` + join(items) + `]}`
}

func itoa(i int) string { return strconv.Itoa(i) }

func heading(level int, inline ...string) string {
	return `{"type":"heading","attrs":{"level":` + itoa(level) + `},"content":[` + join(inline) + `]}`
}

func code(lang, text string) string {
	attrs := ""
	if lang != "" {
		attrs = `"attrs":{"language":` + quote(lang) + `},`
	}
	return `{"type":"codeBlock",` + attrs + `"content":[` + txt(text) + `]}`
}

func quoteBlock(blocks ...string) string {
	return `{"type":"blockquote","content":[` + join(blocks) + `]}`
}

func TestToMarkdown(t *testing.T) {
	link := func(href string) string { return linkM(href) }
	tests := []struct {
		name    string
		content string // a doc's content array, without brackets
		want    string
	}{
		{"empty", ``, ""},
		{"paragraph", para(txt("hello")), "hello"},
		{"paragraphs", para(txt("a")) + `,` + para(txt("b")), "a\n\nb"},
		{"empty paragraphs skipped", para() + `,` + para(txt("a")) + `,` + para(), "a"},
		{"hard break", para(txt("a"), brk, txt("b")), "a\\\nb"},
		{"trailing hard breaks dropped", para(txt("a"), brk, brk), "a"},
		{"backslash before a break", para(txt(`a\`), brk, txt("b")), "a&#92;\\\nb"},
		{"leading hard break kept", para(brk, txt("a")), "\\\na"},
		{"newline in text is a break", para(txt("a\r\nb")), "a\\\nb"},
		{"marks", para(txt("b", strongM), txt(" "), txt("i", emM), txt(" "), txt("s", strikeM), txt(" "), txt("c", codeM)), "**b** *i* ~~s~~ `c`"},
		{"em inside a word", para(txt("un"), txt("believ", emM), txt("able")), "un*believ*able"},
		{"nested marks", para(txt("a ", strongM), txt("b", strongM, emM), txt(" c", strongM)), "**a *b* c**"},
		{"em then strong", para(txt("a", emM), txt("b", strongM)), "*a***b**"},
		{"overlapping marks", para(txt("bold ", strongM), txt("both", strongM, emM), txt(" italic", emM)), "**bold *both*** *italic*"},
		{"overlap without spaces", para(txt("a", emM), txt("b", emM, strongM), txt("c", strongM), txt(".")), "*a**b***__c__."},
		{"whitespace leaves marks", para(txt("a ", strongM), txt("b"), txt(" c ", emM), txt("d")), "**a** b *c* d"},
		{"split text nodes merge", para(txt("snake"), txt("_case")), "snake_case"},
		{"link", para(`{"type":"text","text":"t","marks":[{"type":"link","attrs":{"href":"https://x.test/a","title":"say \"hi\""}}]}`), `[t](https://x.test/a "say \"hi\"")`},
		{"autolink", para(txt("https://x.test", link("https://x.test"))), "<https://x.test>"},
		{"email autolink", para(txt("a@b.test", link("mailto:a@b.test"))), "<a@b.test>"},
		{"link destination escapes", para(txt("p", link("https://x.test/(1)")), txt(" "), txt("s", link("https://x.test/a b")), txt(" "), txt("e", link(""))),
			`[p](https://x.test/\(1\)) [s](<https://x.test/a b>) [e](<>)`},
		{"link around marks", para(txt("a", link("u"), strongM), txt(" b", link("u"))), "[**a** b](u)"},
		{"marks around links", para(txt("a ", strongM), txt("l", strongM, link("u")), txt(" b", strongM)), "**a [l](u) b**"},
		{"adjacent links", para(txt("a", link("u")), txt("b", link("v"))), "[a](u)[b](v)"},
		{"code with backticks", para(txt("a`b", codeM), txt(" "), txt("`x", codeM), txt(" "), txt(" y ", codeM)), "``a`b`` `` `x `` `  y  `"},
		{"code link", para(txt("f()", codeM, link("https://x.test"))), "[`f()`](https://x.test)"},
		{"code with other marks from Jira", para(txt("x", codeM, strongM)), "**`x`**"},
		{"escaping", para(txt("*a* _b_ [c](d) `e` ~f~ <g> &amp; h\\* i\\ j!")), "\\*a\\* \\_b\\_ \\[c\\](d) \\`e\\` \\~f\\~ \\<g> \\&amp; h\\\\\\* i\\ j!"},
		{"bang before link", para(txt("see!"), txt("t", link("u"))), `see\![t](u)`},
		{"line starts", para(txt("# h"), brk, txt("- x"), brk, txt("1. x"), brk, txt("> q"), brk, txt("+ x"), brk, txt("==="), brk, txt("    code"), brk, txt("2024) y")),
			"\\# h\\\n\\- x\\\n1\\. x\\\n\\> q\\\n\\+ x\\\n\\===\\\ncode\\\n2024\\) y"},
		{"numbers mid line", para(txt("version 1. ok 1.5")), "version 1. ok 1.5"},
		{"headings", heading(1, txt("One")) + `,` + heading(6, txt("Six ", emM), txt("x")), "# One\n\n###### *Six* x"},
		{"heading keeps hashes", heading(2, txt("C# #")), `## C\# \#`},
		{"heading break becomes space", heading(3, txt("a"), brk, txt("b")), "### a b"},
		{"code block", code("go", "x := `a`\n\ny"), "```go\nx := `a`\n\ny\n```"},
		{"code block without language", code("", "plain"), "```\nplain\n```"},
		{"code block with fence inside", code("md", "```\nx\n````"), "`````md\n```\nx\n````\n`````"},
		{"language with backtick", code("a`b", "x"), "~~~a`b\nx\n~~~"},
		{"empty code block", `{"type":"codeBlock"}`, "```\n```"},
		{"rule", para(txt("a")) + `,{"type":"rule"}`, "a\n\n---"},
		{"blockquote", quoteBlock(para(txt("a")), para(txt("b")), code("", "c")), "> a\n>\n> b\n>\n> ```\n> c\n> ```"},
		{"bullet list", bullets(item(para(txt("a"))), item(para(txt("b")))), "- a\n- b"},
		{"nested lists", bullets(item(para(txt("a")), bullets(item(para(txt("b")), ol(1, item(para(txt("c")))))))), "- a\n  - b\n    1. c"},
		{"ordered list", ol(3, item(para(txt("a"))), item(para(txt("b")))), "3. a\n4. b"},
		{"nested list not numbered 1", bullets(item(para(txt("a")), ol(2, item(para(txt("b")))))), "- a\n\n  2. b"},
		{"adjacent lists", bullets(item(para(txt("a")))) + `,` + bullets(item(para(txt("b")))) + `,` + ol(1, item(para(txt("c")))) + `,` + ol(1, item(para(txt("d")))),
			"- a\n\n* b\n\n1. c\n\n1) d"},
		{"list item blocks", bullets(item(para()), item(para(), code("", "x")), item(para(txt("p")), para(txt("q")))), "-\n- ```\n  x\n  ```\n- p\n\n  q"},
		{"mention", para(`{"type":"mention","attrs":{"id":"5b10","text":"@Ann Lee"}}`, txt(" "), `{"type":"mention","attrs":{"id":"5b11","text":"Bob"}}`, txt(" "), `{"type":"mention","attrs":{"id":"5b12"}}`), "@Ann Lee @Bob @5b12"},
		{"emoji", para(`{"type":"emoji","attrs":{"shortName":":smile:","text":"😄"}}`, `{"type":"emoji","attrs":{"shortName":":custom:"}}`), "😄:custom:"},
		{"inline card", para(txt("see "), `{"type":"inlineCard","attrs":{"url":"https://x.test/browse/A-1"}}`), "see <https://x.test/browse/A-1>"},
		{"block card", `{"type":"blockCard","attrs":{"url":"https://x.test/c"}}`, "<https://x.test/c>"},
		{"status and date", para(`{"type":"status","attrs":{"text":"DONE","color":"green"}}`, txt(" "), `{"type":"date","attrs":{"timestamp":"1704153600000"}}`), "DONE 2024-01-02"},
		{"panel", `{"type":"panel","attrs":{"panelType":"info"},"content":[` + para(txt("inside")) + `]}`, "inside"},
		{"expand", `{"type":"expand","attrs":{"title":"More"},"content":[` + para(txt("hidden")) + `]}`, "**More**\n\nhidden"},
		{"table", `{"type":"table","content":[` +
			`{"type":"tableRow","content":[{"type":"tableHeader","content":[` + para(txt("H1")) + `]},{"type":"tableHeader","content":[` + para(txt("H2")) + `]}]},` +
			`{"type":"tableRow","content":[{"type":"tableCell","content":[` + para(txt("a", strongM)) + `]},{"type":"tableCell","content":[` + bullets(item(para(txt("b")))) + `]}]}]}`,
			"H1\\\nH2\n\n**a**\n\n- b"},
		{"media dropped, caption kept", `{"type":"mediaSingle","content":[{"type":"media","attrs":{"type":"file","id":"1","collection":"c"}},{"type":"caption","content":[` + txt("cap") + `]}]},` +
			`{"type":"mediaGroup","content":[{"type":"media","attrs":{"type":"file","id":"2","collection":"c"}}]}`, "cap"},
		{"task list", `{"type":"taskList","attrs":{"localId":"l"},"content":[{"type":"taskItem","attrs":{"localId":"a","state":"DONE"},"content":[` + txt("task") + `]}]}`, "- task"},
		{"unknown nodes keep text", `{"type":"mystery","content":[` + para(txt("kept")) + `]},` + para(`{"type":"widget","text":"w"}`, `{"type":"placeholder","attrs":{"text":"hint"}}`), "kept\n\nw"},
		{"unknown marks dropped", para(`{"type":"text","text":"u","marks":[{"type":"underline"},{"type":"textColor","attrs":{"color":"#ff0000"}}]}`), "u"},
		{"inline at top level", txt("a") + `,` + brk + `,` + txt("b"), "a\\\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(`{"type":"doc","version":1,"content":[` + tt.content + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := ToMarkdown(doc); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s\n(%q)", got, tt.want, got)
			}
		})
	}
}

func TestToMarkdownNodes(t *testing.T) {
	if got := ToMarkdown(nil); got != "" {
		t.Errorf("ToMarkdown(nil) = %q", got)
	}
	if got := ToMarkdown(Paragraph(Text("x", Strong()))); got != "**x**" {
		t.Errorf("ToMarkdown(paragraph) = %q", got)
	}
	if got := ToMarkdown(&Node{Type: TypeDoc, Content: []*Node{nil, {Type: TypeParagraph, Content: []*Node{nil, Text("a")}}}}); got != "a" {
		t.Errorf("nil children: %q", got)
	}
}
