package adf

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzADFFromMarkdown checks that whatever goldmark parses becomes a
// schema-valid document, that ToMarkdown handles it, and that ToMarkdown's
// output reads back as the same document: if escaping were wrong, literal
// characters would turn into formatting on the way back.
func FuzzADFFromMarkdown(f *testing.F) {
	for _, md := range markdownCorpus() {
		f.Add(md)
	}
	for _, tt := range equivalentMarkdown() {
		f.Add(tt.in)
	}
	for _, s := range []string{
		"", "\x00", "*", "**", "_a_b", "a\\", "- ", "1.", ">", "<", "&", "[]()", "![]()",
		"- # h\n- > q\n  > > q2\n- ---", "> ```\n> x", "`", "``", "\t\tx", "a\r\nb\rc",
		"[a](<b c> 'd')", "***a**b*", "**a*b***", "_a __b__ c_", "~~a ~b~ c~~",
		"1. a\n\n   b\n\n       c", "- a\n - b\n  - c\n   - d", "<!-- x -->", "<div>\n*x*\n</div>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		doc := FromMarkdown(md)
		requireValid(t, doc)
		out := ToMarkdown(doc)
		if !utf8.ValidString(md) {
			return // invalid bytes are replaced; the comparison below would be noise
		}
		again := FromMarkdown(out)
		requireValid(t, again)
		if a, b := mustJSON(t, canonical(doc)), mustJSON(t, canonical(again)); a != b {
			t.Fatalf("ToMarkdown output reads back differently\nmd:  %q\nout: %q\nfirst:  %s\nsecond: %s", md, out, a, b)
		}
		if strings.Contains(out, "\x00") {
			t.Fatalf("NUL in output %q", out)
		}
	})
}

// canonical copies n into a form where documents that mean the same
// compare equal: marks sorted (their order in ADF means nothing),
// whitespace at the edges of emphasis given the emphasis of its neighbours
// (bold or not, a space looks the same), whitespace at the start and end of
// lines dropped (Markdown cannot keep it), and neighbours that then carry
// the same marks merged.
func canonical(n *Node) *Node {
	c := *n
	c.Marks = slices.Clone(n.Marks)
	slices.SortFunc(c.Marks, func(a, b Mark) int { return strings.Compare(a.Type, b.Type) })
	c.Content = nil
	var kids []*Node
	for _, child := range n.Content {
		kids = append(kids, canonical(child))
	}
	kids = mergeTexts(kids)
	plainText := func(k *Node) bool { return k.Type == TypeText && !hasMark(k.Marks, MarkCode) }
	emphasis := func(i int) []Mark {
		if i < 0 || i >= len(kids) || kids[i].Type != TypeText {
			return nil
		}
		return kids[i].Marks
	}
	// withMarksOf keeps the link and code marks of ms, and the emphasis it
	// shares with every neighbour given.
	withMarksOf := func(ms []Mark, neighbours ...[]Mark) []Mark {
		var out []Mark
		for _, m := range ms {
			keep := true
			if m.Type != MarkLink && m.Type != MarkCode {
				for _, nb := range neighbours {
					keep = keep && slices.ContainsFunc(nb, func(x Mark) bool { return markEqual(x, m) })
				}
			}
			if keep {
				out = append(out, m)
			}
		}
		return out
	}
	var split []*Node
	for i, k := range kids {
		if !plainText(k) {
			split = append(split, k)
			continue
		}
		core := strings.TrimSpace(k.Text)
		if core == "" {
			split = append(split, &Node{Type: TypeText, Text: k.Text, Marks: withMarksOf(k.Marks, emphasis(i-1), emphasis(i+1))})
			continue
		}
		at := strings.Index(k.Text, core)
		split = append(split,
			&Node{Type: TypeText, Text: k.Text[:at], Marks: withMarksOf(k.Marks, emphasis(i-1))},
			&Node{Type: TypeText, Text: core, Marks: k.Marks},
			&Node{Type: TypeText, Text: k.Text[at+len(core):], Marks: withMarksOf(k.Marks, emphasis(i+1))})
	}
	for i, k := range split {
		if !plainText(k) {
			continue
		}
		if i == 0 || split[i-1].Type == TypeHardBreak {
			k.Text = strings.TrimLeft(k.Text, " \t")
		}
		if i == len(split)-1 || split[i+1].Type == TypeHardBreak {
			k.Text = strings.TrimRight(k.Text, " \t")
		}
	}
	c.Content = mergeTexts(split)
	return &c
}

func mergeTexts(nodes []*Node) []*Node {
	var out []*Node
	for _, k := range nodes {
		if k.Type == TypeText && k.Text == "" {
			continue
		}
		if last := len(out) - 1; last >= 0 && k.Type == TypeText && out[last].Type == TypeText && marksEqual(out[last].Marks, k.Marks) {
			out[last] = &Node{Type: TypeText, Text: out[last].Text + k.Text, Marks: k.Marks}
			continue
		}
		out = append(out, k)
	}
	return out
}

// FuzzADFToMarkdown feeds ToMarkdown documents as Jira might send them:
// any JSON that decodes, with unknown nodes, odd attribute types and marks
// the schema forbids. It must not panic, and its output must read back as
// a valid document.
func FuzzADFToMarkdown(f *testing.F) {
	for _, md := range markdownCorpus() {
		f.Add(mustJSONf(f, FromMarkdown(md)))
	}
	for _, s := range []string{
		`{"type":"doc","content":[{"type":"heading","attrs":{"level":"x"}},{"type":"orderedList","attrs":{"order":1e300},"content":[{"type":"text","text":"t"}]}]}`,
		`{"type":"doc","content":[{"type":"paragraph","content":[{"type":"text","text":"a","marks":[{"type":"link"},{"type":"link","attrs":{"href":5}},{"type":"code"},{"type":"strong"}]}]}]}`,
		`{"type":"doc","content":[{"type":"table","content":[{"type":"tableRow","content":[null,{"type":"tableCell"}]}]},{"type":"mention","attrs":null},{"type":"date","attrs":{"timestamp":"-99999999999999999"}}]}`,
		`{"type":"doc","content":[{"type":"blockquote","content":[{"type":"blockquote","content":[{"type":"rule"},{"type":"heading"}]}]},{"type":"listItem"},{"type":"taskList","content":[{"type":"taskList"}]}]}`,
		`{"type":"doc","content":[{"type":"codeBlock","attrs":{"language":["go"]},"content":[{"type":"text","text":"` + "```" + `\n~~~"}]}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		doc, err := Parse([]byte(data))
		if err != nil {
			return
		}
		_ = TextLen(doc)
		md := ToMarkdown(doc)
		requireValid(t, FromMarkdown(md))
	})
}

func mustJSONf(f *testing.F, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	return string(data)
}
