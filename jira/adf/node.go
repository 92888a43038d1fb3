// Package adf builds Atlassian Document Format documents, the rich-text
// format of Jira Cloud's REST API v3, and converts them to and from Markdown.
//
// Documents built here (through the builders or FromMarkdown) satisfy
// Atlassian's ADF JSON schema: Doc repairs whatever its arguments would make
// invalid rather than letting Jira reject the request with a 400.
package adf

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Node is one ADF node. Attrs hold numbers as float64 after Parse and as int
// when built here; the accessors in this package accept both.
type Node struct {
	Type    string         `json:"type"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []*Node        `json:"content,omitempty"`
	Text    string         `json:"text,omitempty"`
	Marks   []Mark         `json:"marks,omitempty"`
	Version int            `json:"version,omitempty"` // 1 on the doc only
}

// Mark is formatting applied to a text node.
type Mark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Node and mark type names used by this package.
const (
	TypeDoc         = "doc"
	TypeParagraph   = "paragraph"
	TypeText        = "text"
	TypeHeading     = "heading"
	TypeCodeBlock   = "codeBlock"
	TypeRule        = "rule"
	TypeHardBreak   = "hardBreak"
	TypeBlockquote  = "blockquote"
	TypeBulletList  = "bulletList"
	TypeOrderedList = "orderedList"
	TypeListItem    = "listItem"
	TypeMention     = "mention"
	TypeEmoji       = "emoji"
	TypeInlineCard  = "inlineCard"

	MarkStrong = "strong"
	MarkEm     = "em"
	MarkStrike = "strike"
	MarkCode   = "code"
	MarkLink   = "link"
)

// MarshalJSON always writes a doc's content array, which the schema
// requires and omitempty would drop from an empty document, and puts a
// doc's version first, as Atlassian's examples do.
func (n Node) MarshalJSON() ([]byte, error) {
	type plain Node // no methods, so no recursion
	if n.Type != TypeDoc {
		return json.Marshal(plain(n))
	}
	content := n.Content
	if content == nil {
		content = []*Node{}
	}
	return json.Marshal(struct {
		Type    string         `json:"type"`
		Version int            `json:"version,omitempty"`
		Attrs   map[string]any `json:"attrs,omitempty"`
		Content []*Node        `json:"content"`
		Text    string         `json:"text,omitempty"`
		Marks   []Mark         `json:"marks,omitempty"`
	}{n.Type, n.Version, n.Attrs, content, n.Text, n.Marks})
}

// Doc returns a version 1 document holding blocks. Inline nodes given at the
// top level are wrapped in paragraphs, and whatever would break the schema
// (empty text, marks that may not combine, containers holding what they may
// not hold) is repaired, so the result can be sent to Jira as is.
func Doc(blocks ...*Node) *Node {
	return &Node{Type: TypeDoc, Version: 1, Content: normalizeBlocks(blocks, ctxDoc)}
}

// Paragraph returns a paragraph of inline nodes.
func Paragraph(inline ...*Node) *Node {
	return &Node{Type: TypeParagraph, Content: compact(inline)}
}

// Text returns a text node. An empty string yields a node that Doc drops,
// since ADF forbids empty text.
func Text(s string, marks ...Mark) *Node {
	return &Node{Type: TypeText, Text: s, Marks: marks}
}

// Heading returns a heading; level is clamped to 1–6.
func Heading(level int, inline ...*Node) *Node {
	return &Node{Type: TypeHeading, Attrs: map[string]any{"level": clampLevel(level)}, Content: compact(inline)}
}

// CodeBlock returns a code block; an empty language means plain text.
func CodeBlock(language, text string) *Node {
	n := &Node{Type: TypeCodeBlock}
	if language != "" {
		n.Attrs = map[string]any{"language": language}
	}
	if text != "" {
		n.Content = []*Node{Text(text)}
	}
	return n
}

// Rule returns a horizontal rule.
func Rule() *Node { return &Node{Type: TypeRule} }

// HardBreak returns a line break inside a paragraph or heading.
func HardBreak() *Node { return &Node{Type: TypeHardBreak} }

// Blockquote returns a quote of blocks.
func Blockquote(blocks ...*Node) *Node {
	return &Node{Type: TypeBlockquote, Content: compact(blocks)}
}

// BulletList returns a bulleted list. Items that are not list items are
// wrapped in one.
func BulletList(items ...*Node) *Node {
	return &Node{Type: TypeBulletList, Content: listItems(items)}
}

// OrderedList returns a numbered list whose first item is numbered start.
// ADF allows numbering from 0, so only negative starts become 1.
func OrderedList(start int, items ...*Node) *Node {
	n := &Node{Type: TypeOrderedList, Content: listItems(items)}
	if start < 0 {
		start = 1
	}
	if start != 1 {
		n.Attrs = map[string]any{"order": start}
	}
	return n
}

// ListItem returns a list item. Inline nodes among blocks are gathered into
// paragraphs.
func ListItem(blocks ...*Node) *Node {
	return &Node{Type: TypeListItem, Content: compact(blocks)}
}

// Strong returns the bold mark.
func Strong() Mark { return Mark{Type: MarkStrong} }

// Em returns the italic mark.
func Em() Mark { return Mark{Type: MarkEm} }

// Strike returns the strikethrough mark.
func Strike() Mark { return Mark{Type: MarkStrike} }

// Code returns the inline code mark. ADF lets it combine only with link;
// Doc drops other marks from code text.
func Code() Mark { return Mark{Type: MarkCode} }

// Link returns a link mark to href.
func Link(href string) Mark {
	return Mark{Type: MarkLink, Attrs: map[string]any{"href": href}}
}

// Parse decodes an ADF document, such as a Jira Cloud comment body.
func Parse(data []byte) (*Node, error) {
	var n *Node
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("adf: decode document: %w", err)
	}
	if n == nil {
		return nil, errors.New("adf: decode document: null")
	}
	if n.Type != TypeDoc {
		return nil, fmt.Errorf("adf: decode document: top-level node is %q, want %q", n.Type, TypeDoc)
	}
	return n, nil
}

// TextLen counts the characters of text in doc the way Jira does for its
// size limits: Jira is written in Java, whose strings count UTF-16 code
// units, so a character outside the Basic Multilingual Plane counts twice.
// Text nodes and the text that mentions, emoji and status lozenges show are
// counted; markup is not.
func TextLen(doc *Node) int {
	if doc == nil {
		return 0
	}
	n := 0
	switch doc.Type {
	case TypeText:
		n += StringLen(doc.Text)
	case TypeMention, TypeEmoji, "status":
		n += StringLen(attrString(doc, "text"))
	}
	for _, c := range doc.Content {
		n += TextLen(c)
	}
	return n
}

// StringLen counts s as Jira does: in UTF-16 code units, since Jira is
// Java. Jira's length limits (summary 255, description 32,767) use it.
func StringLen(s string) int {
	n := 0
	for _, r := range s {
		if r == utf8.RuneError {
			n++
			continue
		}
		n += utf16.RuneLen(r)
	}
	return n
}

func clampLevel(level int) int {
	return min(max(level, 1), 6)
}

// compact drops nil arguments so that optional parts can be passed inline.
func compact(nodes []*Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

func listItems(items []*Node) []*Node {
	var out []*Node
	for _, it := range items {
		switch {
		case it == nil:
		case it.Type == TypeListItem:
			out = append(out, it)
		default:
			out = append(out, ListItem(it))
		}
	}
	return out
}

func attrString(n *Node, key string) string {
	if n == nil || n.Attrs == nil {
		return ""
	}
	s, _ := n.Attrs[key].(string)
	return s
}

// attrInt reads a numeric attribute whether it was built here (int) or
// decoded from JSON (float64).
func attrInt(n *Node, key string) (int, bool) {
	if n == nil || n.Attrs == nil {
		return 0, false
	}
	switch v := n.Attrs[key].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		if v != v || v > 1e9 || v < -1e9 { // NaN or absurd
			return 0, false
		}
		return int(v), true
	case json.Number:
		i, err := v.Int64()
		if err != nil || i > 1e9 || i < -1e9 {
			return 0, false
		}
		return int(i), true
	}
	return 0, false
}

func markAttrString(m Mark, key string) string {
	if m.Attrs == nil {
		return ""
	}
	s, _ := m.Attrs[key].(string)
	return s
}
