package adf

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(data)
}

// docJSON wraps the JSON of a doc's content the way Node marshals a doc.
func docJSON(content string) string {
	return `{"type":"doc","version":1,"content":[` + content + `]}`
}

func TestBuilders(t *testing.T) {
	tests := []struct {
		name string
		doc  *Node
		want string // the doc's content array, without brackets
	}{
		{"empty doc", Doc(), ``},
		{"paragraph", Doc(Paragraph(Text("hi"))),
			`{"type":"paragraph","content":[{"type":"text","text":"hi"}]}`},
		{"marks", Doc(Paragraph(Text("b", Strong()), Text("i", Em()), Text("s", Strike()), Text("c", Code()), Text("l", Link("https://x.test/")))),
			`{"type":"paragraph","content":[{"type":"text","text":"b","marks":[{"type":"strong"}]},{"type":"text","text":"i","marks":[{"type":"em"}]},{"type":"text","text":"s","marks":[{"type":"strike"}]},{"type":"text","text":"c","marks":[{"type":"code"}]},{"type":"text","text":"l","marks":[{"type":"link","attrs":{"href":"https://x.test/"}}]}]}`},
		{"code keeps only link", Doc(Paragraph(Text("x", Strong(), Code(), Em(), Link("u")))),
			`{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"code"},{"type":"link","attrs":{"href":"u"}}]}]}`},
		{"duplicate marks", Doc(Paragraph(Text("x", Strong(), Strong()))),
			`{"type":"paragraph","content":[{"type":"text","text":"x","marks":[{"type":"strong"}]}]}`},
		{"empty text dropped", Doc(Paragraph(Text(""), Text("a"), nil)),
			`{"type":"paragraph","content":[{"type":"text","text":"a"}]}`},
		{"newlines become hard breaks", Doc(Paragraph(Text("a\r\nb\n"))),
			`{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b"},{"type":"hardBreak"}]}`},
		{"neighbours merge", Doc(Paragraph(Text("a"), Text("b"), Text("c", Em()))),
			`{"type":"paragraph","content":[{"type":"text","text":"ab"},{"type":"text","text":"c","marks":[{"type":"em"}]}]}`},
		{"hard break", Doc(Paragraph(Text("a"), HardBreak(), Text("b"))),
			`{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b"}]}`},
		{"heading", Doc(Heading(2, Text("t"))),
			`{"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"t"}]}`},
		{"heading level clamped", Doc(Heading(9, Text("t")), Heading(0)),
			`{"type":"heading","attrs":{"level":6},"content":[{"type":"text","text":"t"}]},{"type":"heading","attrs":{"level":1}}`},
		{"code block", Doc(CodeBlock("go", "x := 1\n")),
			`{"type":"codeBlock","attrs":{"language":"go"},"content":[{"type":"text","text":"x := 1\n"}]}`},
		{"empty code block", Doc(CodeBlock("", "")),
			`{"type":"codeBlock"}`},
		{"rule", Doc(Rule()), `{"type":"rule"}`},
		{"bullet list", Doc(BulletList(ListItem(Paragraph(Text("a"))), ListItem(Paragraph(Text("b"))))),
			`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]},{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"b"}]}]}]}`},
		{"bare items wrapped", Doc(BulletList(Paragraph(Text("a")), nil)),
			`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]}]}`},
		{"inline in item wrapped", Doc(BulletList(ListItem(Text("a"), Text("b", Em())))),
			`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"text","text":"b","marks":[{"type":"em"}]}]}]}]}`},
		{"empty item gets a paragraph", Doc(BulletList(ListItem())),
			`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph"}]}]}`},
		{"item starting with code", Doc(BulletList(ListItem(CodeBlock("", "x")))),
			`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph"},{"type":"codeBlock","content":[{"type":"text","text":"x"}]}]}]}`},
		{"empty list dropped", Doc(BulletList()), ``},
		{"ordered list", Doc(OrderedList(3, ListItem(Paragraph(Text("a"))))),
			`{"type":"orderedList","attrs":{"order":3},"content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]}]}`},
		{"ordered list from 1 has no order", Doc(OrderedList(1, ListItem(Paragraph(Text("a"))))),
			`{"type":"orderedList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]}]}`},
		{"blockquote", Doc(Blockquote(Paragraph(Text("q")))),
			`{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"q"}]}]}`},
		{"quote repairs", Doc(Blockquote(Heading(1, Text("h"), Text("c", Code())), Rule(), Blockquote(Paragraph(Text("inner"))))),
			`{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"h","marks":[{"type":"strong"}]},{"type":"text","text":"c","marks":[{"type":"code"}]}]},{"type":"paragraph","content":[{"type":"text","text":"inner"}]}]}`},
		{"empty quote dropped", Doc(Blockquote(Rule())), ``},
		{"inline at top level", Doc(Text("a"), HardBreak(), Text("b"), Rule()),
			`{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b"}]},{"type":"rule"}`},
		{"list item alone becomes a list", Doc(ListItem(Paragraph(Text("a")))),
			`{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"a"}]}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := mustJSON(t, tt.doc), docJSON(tt.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			requireValid(t, tt.doc)
		})
	}
}

func TestDocDoesNotMutateArguments(t *testing.T) {
	p := Paragraph(Text("a"), Text("b"))
	first := Doc(p)
	second := Doc(p)
	if mustJSON(t, first) != mustJSON(t, second) || len(p.Content) != 2 {
		t.Fatalf("Doc changed its argument: %s", mustJSON(t, p))
	}
}

func TestParse(t *testing.T) {
	doc, err := Parse([]byte(`{"type":"doc","version":1,"content":[{"type":"heading","attrs":{"level":3},"content":[{"type":"text","text":"x"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ToMarkdown(doc); got != "### x" {
		t.Errorf("ToMarkdown(Parse(...)) = %q", got)
	}
	for _, bad := range []string{``, `null`, `[]`, `{"type":"paragraph"}`, `{"type":"doc"`, `"doc"`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		} else if !strings.HasPrefix(err.Error(), "adf: ") {
			t.Errorf("Parse(%q) error %q lacks the package prefix", bad, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	doc := FromMarkdown("# T\n\n**a** [b](http://x \"t\")\n\n3. x\n\n```sh\necho\n```")
	data := mustJSON(t, doc)
	back, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, back); got != data {
		t.Errorf("decode/encode changed the document:\n%s\n%s", data, got)
	}
	if ToMarkdown(back) != ToMarkdown(doc) {
		t.Errorf("decoded numbers (float64) render differently: %q vs %q", ToMarkdown(back), ToMarkdown(doc))
	}
}

func TestTextLen(t *testing.T) {
	tests := []struct {
		doc  *Node
		want int
	}{
		{nil, 0},
		{Doc(), 0},
		{Doc(Paragraph(Text("abc", Strong()), HardBreak(), Text("de"))), 5},
		{Doc(Heading(1, Text("h")), CodeBlock("go", "1234"), BulletList(ListItem(Paragraph(Text("xy"))))), 7},
		{Doc(Paragraph(Text("é😀"))), 3}, // the emoji is two UTF-16 units
		{&Node{Type: TypeDoc, Content: []*Node{{Type: TypeParagraph, Content: []*Node{
			{Type: TypeMention, Attrs: map[string]any{"id": "1", "text": "@Ann"}},
			{Type: TypeEmoji, Attrs: map[string]any{"shortName": ":smile:", "text": "😄"}},
		}}}}, 6},
	}
	for i, tt := range tests {
		if got := TextLen(tt.doc); got != tt.want {
			t.Errorf("%d: TextLen = %d, want %d", i, got, tt.want)
		}
	}
}
