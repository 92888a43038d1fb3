package adf

import (
	"maps"
	"strings"
)

// blockCtx is where a block sits; the schema allows different children in
// each place.
type blockCtx int

const (
	ctxDoc   blockCtx = iota
	ctxQuote          // blockquote: paragraphs, lists, code blocks
	ctxItem           // listItem: the same, and it must start with a paragraph or list
)

// isInlineType reports whether nodes of type t live inside paragraphs and
// headings rather than beside them.
func isInlineType(t string) bool {
	switch t {
	case TypeText, TypeHardBreak, TypeMention, TypeEmoji, TypeInlineCard,
		"date", "status", "placeholder", "mediaInline", "inlineExtension":
		return true
	}
	return false
}

// normalizeBlocks returns fresh nodes that the schema accepts in ctx. It
// never mutates its input, so callers may reuse nodes across documents.
func normalizeBlocks(nodes []*Node, ctx blockCtx) []*Node {
	var out, inline []*Node
	flush := func() {
		if len(inline) > 0 {
			out = append(out, &Node{Type: TypeParagraph, Content: normalizeInline(inline, nil)})
			inline = nil
		}
	}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		if isInlineType(n.Type) {
			inline = append(inline, n)
			continue
		}
		flush()
		out = append(out, normalizeBlock(n, ctx)...)
	}
	flush()
	if ctx == ctxItem {
		// Jira's editor requires a list item to open with a paragraph (or a
		// nested list); an empty item needs something to hold.
		if len(out) == 0 || !startsItem(out[0]) {
			out = append([]*Node{{Type: TypeParagraph}}, out...)
		}
	}
	return out
}

func startsItem(n *Node) bool {
	switch n.Type {
	case TypeParagraph, TypeBulletList, TypeOrderedList:
		return true
	}
	return false
}

func normalizeBlock(n *Node, ctx blockCtx) []*Node {
	switch n.Type {
	case TypeParagraph:
		return []*Node{{Type: TypeParagraph, Content: normalizeInline(n.Content, nil)}}
	case TypeHeading:
		if ctx != ctxDoc {
			// Quotes and list items cannot hold headings; bold keeps the
			// emphasis the author meant.
			inline := normalizeInline(n.Content, []Mark{Strong()})
			if len(inline) == 0 {
				return nil
			}
			return []*Node{{Type: TypeParagraph, Content: inline}}
		}
		level, _ := attrInt(n, "level")
		return []*Node{{
			Type:    TypeHeading,
			Attrs:   map[string]any{"level": clampLevel(level)},
			Content: normalizeInline(n.Content, nil),
		}}
	case TypeCodeBlock:
		return []*Node{normalizeCodeBlock(n)}
	case TypeRule:
		if ctx != ctxDoc {
			return nil // no place for a rule inside quotes or list items
		}
		return []*Node{{Type: TypeRule}}
	case TypeBlockquote:
		inner := normalizeBlocks(n.Content, ctxQuote)
		if ctx != ctxDoc {
			// Quotes do not nest in ADF, nor sit in list items; keep the
			// content, lose the frame.
			return inner
		}
		if len(inner) == 0 {
			return nil
		}
		return []*Node{{Type: TypeBlockquote, Content: inner}}
	case TypeBulletList, TypeOrderedList:
		return normalizeList(n)
	case TypeListItem:
		return normalizeList(&Node{Type: TypeBulletList, Content: []*Node{n}})
	}
	// Anything else was built by hand with knowledge this package lacks;
	// pass it through untouched.
	return []*Node{n}
}

func normalizeList(n *Node) []*Node {
	out := &Node{Type: n.Type}
	if n.Type == TypeOrderedList {
		if order, ok := attrInt(n, "order"); ok && order >= 0 && order != 1 {
			out.Attrs = map[string]any{"order": order}
		}
	}
	for _, it := range n.Content {
		if it == nil {
			continue
		}
		blocks := []*Node{it}
		if it.Type == TypeListItem {
			blocks = it.Content
		}
		out.Content = append(out.Content, &Node{Type: TypeListItem, Content: normalizeBlocks(blocks, ctxItem)})
	}
	if len(out.Content) == 0 {
		return nil
	}
	return []*Node{out}
}

func normalizeCodeBlock(n *Node) *Node {
	out := &Node{Type: TypeCodeBlock}
	if lang := attrString(n, "language"); lang != "" {
		out.Attrs = map[string]any{"language": lang}
	}
	// Code blocks hold plain text only; keep the characters of anything else.
	if text := plainText(n.Content); text != "" {
		out.Content = []*Node{{Type: TypeText, Text: text}}
	}
	return out
}

// plainText is the characters under nodes, hard breaks as newlines.
func plainText(nodes []*Node) string {
	var b strings.Builder
	var collect func([]*Node)
	collect = func(nodes []*Node) {
		for _, c := range nodes {
			if c == nil {
				continue
			}
			if c.Type == TypeHardBreak {
				b.WriteByte('\n')
			}
			b.WriteString(c.Text)
			collect(c.Content)
		}
	}
	collect(nodes)
	return b.String()
}

// normalizeInline copies inline nodes, adding extra marks to text, dropping
// empty text, turning newlines into hard breaks, enforcing the code mark's
// restrictions and merging neighbours that carry the same marks.
func normalizeInline(nodes []*Node, extra []Mark) []*Node {
	var out []*Node
	add := func(n *Node) {
		if n.Type == TypeText && len(out) > 0 {
			last := out[len(out)-1]
			if last.Type == TypeText && marksEqual(last.Marks, n.Marks) {
				last.Text += n.Text
				return
			}
		}
		out = append(out, n)
	}
	var walk func([]*Node, []Mark)
	walk = func(nodes []*Node, extra []Mark) {
		for _, n := range nodes {
			if n == nil {
				continue
			}
			switch {
			case n.Type == TypeText:
				marks := fixMarks(append(append([]Mark(nil), n.Marks...), extra...))
				text := strings.ReplaceAll(n.Text, "\r\n", "\n")
				text = strings.ReplaceAll(text, "\r", "\n")
				for i, line := range strings.Split(text, "\n") {
					if i > 0 {
						add(&Node{Type: TypeHardBreak})
					}
					if line != "" {
						add(&Node{Type: TypeText, Text: line, Marks: marks})
					}
				}
			case n.Type == TypeHardBreak:
				add(&Node{Type: TypeHardBreak})
			case isInlineType(n.Type):
				c := *n
				c.Attrs = maps.Clone(n.Attrs)
				add(&c)
			default:
				// A block where inline content belongs: keep its text.
				walk(n.Content, extra)
			}
		}
	}
	walk(nodes, extra)
	return out
}

// fixMarks drops duplicate mark types and, when code is present, every mark
// but link: the schema allows code to combine with nothing else.
func fixMarks(marks []Mark) []Mark {
	if len(marks) == 0 {
		return nil
	}
	hasCode := false
	for _, m := range marks {
		if m.Type == MarkCode {
			hasCode = true
		}
	}
	var out []Mark
	seen := map[string]bool{}
	for _, m := range marks {
		if seen[m.Type] || (hasCode && m.Type != MarkCode && m.Type != MarkLink) {
			continue
		}
		seen[m.Type] = true
		out = append(out, Mark{Type: m.Type, Attrs: maps.Clone(m.Attrs)})
	}
	return out
}

func marksEqual(a, b []Mark) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !markEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func markEqual(a, b Mark) bool {
	if a.Type != b.Type || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	for k, v := range a.Attrs {
		w, ok := b.Attrs[k]
		if !ok || !scalarEqual(v, w) {
			return false
		}
	}
	return true
}

// scalarEqual compares attribute values, which are scalars for every mark
// this package deals with; anything else is treated as different.
func scalarEqual(a, b any) bool {
	switch a.(type) {
	case string, bool, float64, int, nil:
		return a == b
	}
	return false
}
