package adf

import (
	"strconv"
	"strings"

	"github.com/yuin/goldmark/util"
)

// ToMarkdown renders an ADF document (or any single node) as CommonMark
// with GFM strikethrough. What Markdown cannot show is reduced to its text:
// tables become lines, panels and expands their content, mentions "@name",
// emoji their character, cards their URL; media and extensions are dropped.
// Marks other than strong, em, strike, code and link are dropped too.
func ToMarkdown(doc *Node) string {
	if doc == nil {
		return ""
	}
	nodes := []*Node{doc}
	if doc.Type == TypeDoc {
		nodes = doc.Content
	}
	return strings.Join(mdBlocks(nodes, false), "\n")
}

// mdBlocks renders blocks as lines, a blank line between blocks. Inside a
// list item a nested list hugs the paragraph before it, so that the common
// tight list survives the round trip.
func mdBlocks(nodes []*Node, inItem bool) []string {
	var out []string
	var prev *Node
	prevAlt := false
	for _, n := range flattenBlocks(nodes) {
		alt := false
		if prev != nil && isList(n) && prev.Type == n.Type {
			// Two lists of one kind in a row would merge into one list;
			// a different marker keeps them apart.
			alt = !prevAlt
		}
		lines := mdBlock(n, inItem, alt)
		if len(lines) == 0 {
			continue
		}
		if len(out) > 0 {
			hug := inItem && prev.Type == TypeParagraph && isList(n) && listCanInterrupt(n, lines[0])
			// After an empty item a blank line would end the enclosing
			// item too; nothing can continue an empty item anyway.
			if !hug && !emptyItemLine(out[len(out)-1]) {
				out = append(out, "")
			}
		}
		out = append(out, lines...)
		prev, prevAlt = n, alt
	}
	return out
}

func isList(n *Node) bool {
	return n.Type == TypeBulletList || n.Type == TypeOrderedList
}

// emptyItemLine reports whether a line is nothing but list markers, like
// "-" or "- 1.": an empty list item.
func emptyItemLine(l string) bool {
	f := strings.Fields(l)
	for _, m := range f {
		if m != "-" && m != "*" && !orderedMarker(m) {
			return false
		}
	}
	return len(f) > 0
}

func orderedMarker(m string) bool {
	n := len(m) - 1
	if n < 1 || n > 9 || (m[n] != '.' && m[n] != ')') {
		return false
	}
	for i := range n {
		if m[i] < '0' || m[i] > '9' {
			return false
		}
	}
	return true
}

// listCanInterrupt reports whether a list may start right after a paragraph
// line: CommonMark lets only a non-empty first item, numbered 1 if ordered,
// interrupt a paragraph.
func listCanInterrupt(n *Node, first string) bool {
	marker, rest, ok := strings.Cut(first, " ")
	if !ok || strings.TrimSpace(rest) == "" {
		return false
	}
	return n.Type != TypeOrderedList || marker == "1." || marker == "1)"
}

// flattenBlocks reduces a sequence of nodes to the blocks Markdown has:
// inline runs become paragraphs, containers without a Markdown equivalent
// give up their content, tables their cells.
func flattenBlocks(nodes []*Node) []*Node {
	var out, inline []*Node
	flush := func() {
		if len(inline) > 0 {
			out = append(out, &Node{Type: TypeParagraph, Content: inline})
			inline = nil
		}
	}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		if isInlineType(n.Type) || (n.Text != "" && len(n.Content) == 0) {
			inline = append(inline, n)
			continue
		}
		flush()
		switch n.Type {
		case TypeParagraph, TypeHeading, TypeCodeBlock, TypeRule, TypeBlockquote, TypeBulletList, TypeOrderedList:
			out = append(out, n)
		case TypeListItem:
			out = append(out, &Node{Type: TypeBulletList, Content: []*Node{n}})
		case "taskList", "decisionList":
			out = append(out, taskList(n))
		case "table":
			for _, row := range n.Content {
				out = append(out, tableRow(row)...)
			}
		case "blockCard", "embedCard":
			if url := attrString(n, "url"); url != "" {
				out = append(out, &Node{Type: TypeParagraph, Content: []*Node{Text(url, Link(url))}})
			}
		case "expand", "nestedExpand":
			if title := attrString(n, "title"); title != "" {
				out = append(out, &Node{Type: TypeParagraph, Content: []*Node{Text(title, Strong())}})
			}
			out = append(out, flattenBlocks(n.Content)...)
		case "media", "extension":
			// Nothing readable: an attachment or a macro's output.
		default:
			out = append(out, flattenBlocks(n.Content)...)
		}
	}
	flush()
	return out
}

// taskList shows tasks and decisions as a bulleted list; their state is lost.
func taskList(n *Node) *Node {
	list := &Node{Type: TypeBulletList}
	for _, c := range n.Content {
		if c == nil {
			continue
		}
		if (c.Type == "taskList" || c.Type == "decisionList") && len(list.Content) > 0 {
			last := list.Content[len(list.Content)-1]
			last.Content = append(last.Content, taskList(c))
			continue
		}
		list.Content = append(list.Content, &Node{Type: TypeListItem, Content: c.Content})
	}
	return list
}

// tableRow keeps a row's text: one line per cell when every cell is a single
// paragraph, the cells' blocks in order otherwise.
func tableRow(row *Node) []*Node {
	if row == nil {
		return nil
	}
	simple := true
	for _, cell := range row.Content {
		if cell == nil {
			continue
		}
		blocks := flattenBlocks(cell.Content)
		if len(blocks) > 1 || (len(blocks) == 1 && blocks[0].Type != TypeParagraph) {
			simple = false
		}
	}
	if !simple {
		var out []*Node
		for _, cell := range row.Content {
			if cell != nil {
				out = append(out, flattenBlocks(cell.Content)...)
			}
		}
		return out
	}
	para := &Node{Type: TypeParagraph}
	for _, cell := range row.Content {
		if cell == nil {
			continue
		}
		for _, b := range flattenBlocks(cell.Content) {
			if len(b.Content) == 0 {
				continue
			}
			if len(para.Content) > 0 {
				para.Content = append(para.Content, HardBreak())
			}
			para.Content = append(para.Content, b.Content...)
		}
	}
	if len(para.Content) == 0 {
		return nil
	}
	return []*Node{para}
}

func mdBlock(n *Node, inItem, alt bool) []string {
	switch n.Type {
	case TypeParagraph:
		return mdParagraph(n.Content)
	case TypeHeading:
		level, _ := attrInt(n, "level")
		prefix := strings.Repeat("#", clampLevel(level))
		text := mdInline(n.Content, true)
		if text == "" {
			return []string{prefix}
		}
		return []string{prefix + " " + text}
	case TypeCodeBlock:
		return mdCodeBlock(n)
	case TypeRule:
		if inItem {
			return []string{"***"} // "- ---" would be a rule, not an item
		}
		return []string{"---"}
	case TypeBlockquote:
		var out []string
		for _, l := range mdBlocks(n.Content, false) {
			if l == "" {
				out = append(out, ">")
			} else {
				out = append(out, "> "+l)
			}
		}
		return out
	case TypeBulletList, TypeOrderedList:
		return mdList(n, alt)
	}
	return nil
}

func mdList(n *Node, alt bool) []string {
	ordered := n.Type == TypeOrderedList
	number := 1
	if ordered {
		if o, ok := attrInt(n, "order"); ok && o >= 0 {
			number = min(o, 999_999_000) // CommonMark allows nine digits
		}
	}
	var out []string
	for _, it := range n.Content {
		if it == nil {
			continue
		}
		marker := "-"
		if alt {
			marker = "*"
		}
		if ordered {
			delim := "."
			if alt {
				delim = ")"
			}
			marker = strconv.Itoa(number) + delim
			number++
		}
		content := []*Node{it}
		if it.Type == TypeListItem {
			content = it.Content
		}
		lines := mdBlocks(content, true)
		if len(lines) == 0 {
			out = append(out, marker)
			continue
		}
		pad := strings.Repeat(" ", len(marker)+1)
		out = append(out, marker+" "+lines[0])
		for _, l := range lines[1:] {
			if l == "" {
				out = append(out, "")
			} else {
				out = append(out, pad+l)
			}
		}
	}
	return out
}

func mdCodeBlock(n *Node) []string {
	code := strings.ReplaceAll(plainText(n.Content), "\r\n", "\n")
	code = strings.ReplaceAll(code, "\r", "\n")
	lang := ""
	if f := strings.Fields(attrString(n, "language")); len(f) > 0 {
		lang = escapeInfo(f[0])
	}
	fenceChar := byte('`')
	if strings.Contains(lang, "`") {
		fenceChar = '~'
	}
	lines := strings.Split(code, "\n")
	// The fence must be longer than any run of its character that could
	// close it early.
	width := 3
	for _, l := range lines {
		l = strings.TrimLeft(l, " \t")
		run := 0
		for run < len(l) && l[run] == fenceChar {
			run++
		}
		width = max(width, run+1)
	}
	fence := strings.Repeat(string(fenceChar), width)
	out := []string{fence + lang}
	if code != "" {
		out = append(out, lines...)
	}
	return append(out, fence)
}

// escapeInfo protects the characters an info string would interpret.
func escapeInfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if (s[i] == '\\' && (i+1 == len(s) || util.IsPunct(s[i+1]))) || (s[i] == '&' && entityLike(s[i:])) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mdParagraph renders inline content as lines; every line but the last
// ends in a backslash hard break.
func mdParagraph(nodes []*Node) []string {
	text := mdInline(nodes, false)
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = escapeLineStart(strings.TrimLeft(l, " \t"))
	}
	// A hard break at the end of a paragraph means nothing in ADF and would
	// be a literal backslash in Markdown.
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
		if len(lines) > 0 {
			lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], `\`)
		}
	}
	return lines
}

// escapeLineStart stops a paragraph line from being read as the start of a
// heading, quote, list, rule or setext underline.
func escapeLineStart(l string) string {
	if l == "" {
		return l
	}
	switch l[0] {
	case '#', '>', '-', '+', '=':
		return `\` + l
	}
	digits := 0
	for digits < len(l) && l[digits] >= '0' && l[digits] <= '9' {
		digits++
	}
	if digits > 0 && digits <= 9 && digits < len(l) && (l[digits] == '.' || l[digits] == ')') &&
		(digits+1 == len(l) || l[digits+1] == ' ' || l[digits+1] == '\t') {
		return l[:digits] + `\` + l[digits:]
	}
	return l
}
