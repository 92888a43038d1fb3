// Package wiki converts between Markdown and Jira wiki markup, the rich-text
// format of Jira Data Center's REST API v2 (and of webhook bodies on Cloud).
//
// Both directions pass through an ADF tree (package adf): Markdown is read
// once, by adf.FromMarkdown, and written once, by adf.ToMarkdown, so Jira
// Cloud and Data Center show a comment the same way.
package wiki

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/alertbridge/alertbridge/jira/adf"
)

// FromMarkdown converts Markdown (CommonMark with GFM strikethrough) to Jira
// wiki markup.
func FromMarkdown(md string) string {
	return render(adf.FromMarkdown(md))
}

func render(doc *adf.Node) string {
	if doc == nil {
		return ""
	}
	return strings.Join(renderBlocks(doc.Content), "\n")
}

// renderBlocks renders blocks as lines with a blank line between blocks.
func renderBlocks(nodes []*adf.Node) []string {
	var out []string
	for _, n := range nodes {
		lines := renderBlock(n)
		if len(lines) == 0 {
			continue
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, lines...)
	}
	return out
}

func renderBlock(n *adf.Node) []string {
	if n == nil {
		return nil
	}
	switch n.Type {
	case adf.TypeParagraph:
		return renderParagraph(n.Content)
	case adf.TypeHeading:
		level := 1
		if v, ok := n.Attrs["level"].(int); ok {
			level = min(max(v, 1), 6)
		}
		// A heading is one line; its breaks become spaces.
		return []string{"h" + strconv.Itoa(level) + ". " + renderInline(n.Content, " ")}
	case adf.TypeCodeBlock:
		return renderCode(n)
	case adf.TypeRule:
		return []string{"----"}
	case adf.TypeBlockquote:
		return slices.Concat([]string{"{quote}"}, renderBlocks(n.Content), []string{"{quote}"})
	case adf.TypeBulletList, adf.TypeOrderedList:
		return renderList(n, "")
	}
	// FromMarkdown makes nothing else; keep the text of whatever appears.
	if len(n.Content) > 0 {
		return renderBlocks(n.Content)
	}
	if n.Text != "" {
		return []string{Escape(n.Text)}
	}
	return nil
}

// renderParagraph writes a paragraph; a line break is a newline, which Jira
// shows as a break inside a paragraph.
func renderParagraph(nodes []*adf.Node) []string {
	text := renderInline(nodes, "\n")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = escapeLineStart(strings.TrimLeftFunc(l, unicode.IsSpace))
	}
	return lines
}

func renderCode(n *adf.Node) []string {
	var b strings.Builder
	for _, c := range n.Content {
		b.WriteString(c.Text)
	}
	code := b.String()
	lang, _ := n.Attrs["language"].(string)
	if !validLanguage(lang) || lang == "none" {
		lang = ""
	}
	open, closeTag := "{noformat}", "{noformat}"
	if lang != "" {
		open, closeTag = "{code:"+lang+"}", "{code}"
	}
	// Nothing escapes inside these macros, so a body holding the closing tag
	// must use the other macro, and a body holding both cannot be a block:
	// it becomes lines of monospace, which can escape.
	lower := strings.ToLower(code)
	if strings.Contains(lower, "{code}") && strings.Contains(lower, "{noformat}") {
		var out []string
		for _, l := range strings.Split(code, "\n") {
			if l != "" {
				out = append(out, "{{"+escapeText(l)+"}}")
			}
		}
		return out
	}
	if strings.Contains(lower, closeTag) {
		if closeTag == "{code}" {
			open, closeTag = "{noformat}", "{noformat}"
		} else {
			open, closeTag = "{code:none}", "{code}"
		}
	}
	return []string{open, code, closeTag}
}

// validLanguage keeps to names that cannot break the macro's parameters.
func validLanguage(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r < 128 && (isAlnum(r) || strings.ContainsRune("+#-_.", r))) {
			return false
		}
	}
	return true
}

// renderList writes a list; wiki items are single lines, so paragraphs in
// one item are joined by "\\" breaks, and a paragraph after a nested list
// starts a new item.
func renderList(n *adf.Node, prefix string) []string {
	marker := prefix + "*"
	if n.Type == adf.TypeOrderedList {
		marker = prefix + "#"
	}
	var out []string
	for _, it := range n.Content {
		if it == nil {
			continue
		}
		var texts []string
		line := func() {
			if texts != nil {
				out = append(out, strings.TrimRight(marker+" "+strings.Join(texts, `\\`), " "))
				texts = nil
			}
		}
		started := false
		for _, b := range it.Content {
			switch b.Type {
			case adf.TypeParagraph:
				texts = append(texts, renderInline(b.Content, `\\`))
				started = true
			case adf.TypeBulletList, adf.TypeOrderedList:
				if !started {
					texts = []string{}
					started = true
				}
				line()
				out = append(out, renderList(b, marker)...)
			case adf.TypeCodeBlock:
				if !started {
					texts = []string{}
					started = true
				}
				line()
				// The parser reads a code macro right under an item as part
				// of that item.
				out = append(out, renderCode(b)...)
			default:
				texts = append(texts, strings.Join(renderBlock(b), `\\`))
				started = true
			}
		}
		if !started {
			texts = []string{}
		}
		line()
	}
	return out
}

// Inline rendering.

type wikiKind int

const (
	kStrong wikiKind = iota
	kEm
	kStrike
	kLink
	numKinds
)

func delimOf(k wikiKind) string {
	switch k {
	case kStrong:
		return "*"
	case kEm:
		return "_"
	}
	return "-"
}

type marks struct {
	has  [numKinds]bool
	code bool
	href string
}

func (m marks) same(o marks, k wikiKind) bool {
	return m.has[k] && o.has[k] && (k != kLink || m.href == o.href)
}

type atom struct {
	text  string
	marks marks
}

func marksOf(ms []adf.Mark) marks {
	var m marks
	for _, mk := range ms {
		switch mk.Type {
		case adf.MarkStrong:
			m.has[kStrong] = true
		case adf.MarkEm:
			m.has[kEm] = true
		case adf.MarkStrike:
			m.has[kStrike] = true
		case adf.MarkCode:
			m.code = true
		case adf.MarkLink:
			// A link to nowhere has no wiki form; its text stays.
			if href, _ := mk.Attrs["href"].(string); href != "" {
				m.has[kLink], m.href = true, href
			}
		}
	}
	return m
}

// renderInline writes inline nodes, joining lines with sep. Each line is
// written on its own: Jira does not carry formatting across line breaks.
func renderInline(nodes []*adf.Node, sep string) string {
	var lines [][]atom
	var cur []atom
	var collect func([]*adf.Node)
	collect = func(nodes []*adf.Node) {
		for _, n := range nodes {
			switch {
			case n == nil:
			case n.Type == adf.TypeHardBreak:
				lines = append(lines, cur)
				cur = nil
			case n.Type == adf.TypeText:
				parts := strings.Split(strings.ReplaceAll(n.Text, "\r", ""), "\n")
				for i, p := range parts {
					if i > 0 {
						lines = append(lines, cur)
						cur = nil
					}
					if p != "" {
						cur = append(cur, atom{p, marksOf(n.Marks)})
					}
				}
			case n.Type == adf.TypeMention:
				name := strings.TrimPrefix(attr(n, "text"), "@")
				if name == "" {
					name = attr(n, "id")
				}
				cur = append(cur, atom{"@" + name, marksOf(n.Marks)})
			case n.Type == adf.TypeEmoji:
				cur = append(cur, atom{attr(n, "text"), marksOf(n.Marks)})
			case n.Type == adf.TypeInlineCard:
				url := attr(n, "url")
				cur = append(cur, atom{url, marks{has: [numKinds]bool{kLink: true}, href: url}})
			default:
				if n.Text != "" {
					cur = append(cur, atom{n.Text, marksOf(n.Marks)})
				}
				collect(n.Content)
			}
		}
	}
	collect(nodes)
	lines = append(lines, cur)
	for len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = renderLine(l)
	}
	return strings.Join(out, sep)
}

func attr(n *adf.Node, key string) string {
	s, _ := n.Attrs[key].(string)
	return s
}

// spread moves whitespace at the edges of formatted text outside the
// formatting: Jira, like Markdown, will not close "*a *".
func spread(in []atom) []atom {
	var out []atom
	for i, a := range in {
		if a.marks.code {
			out = append(out, a)
			continue
		}
		var prev, next marks
		if i > 0 {
			prev = in[i-1].marks
		}
		if i+1 < len(in) {
			next = in[i+1].marks
		}
		keep := func(m, o marks) marks {
			for _, k := range []wikiKind{kStrong, kEm, kStrike} {
				m.has[k] = m.has[k] && o.has[k]
			}
			return m
		}
		core := strings.TrimLeftFunc(a.text, unicode.IsSpace)
		lead := a.text[:len(a.text)-len(core)]
		trimmed := strings.TrimRightFunc(core, unicode.IsSpace)
		trail := core[len(trimmed):]
		if trimmed == "" {
			out = append(out, atom{a.text, keep(keep(a.marks, prev), next)})
			continue
		}
		if lead != "" {
			out = append(out, atom{lead, keep(a.marks, prev)})
		}
		out = append(out, atom{trimmed, a.marks})
		if trail != "" {
			out = append(out, atom{trail, keep(a.marks, next)})
		}
	}
	return out
}

// piece is rendered output: text, or a mark opening or closing.
type piece struct {
	s     string
	atom  bool
	open  bool
	kind  wikiKind
	marks marks
}

// renderLine writes one line of atoms with properly nested marks; marks that
// run longer open first.
func renderLine(atoms []atom) string {
	atoms = spread(atoms)
	run := make([][numKinds]int, len(atoms)+1)
	for i := len(atoms) - 1; i >= 0; i-- {
		for k := range numKinds {
			if atoms[i].marks.has[k] {
				run[i][k] = 1
				if i+1 < len(atoms) && atoms[i].marks.same(atoms[i+1].marks, k) {
					run[i][k] += run[i+1][k]
				}
			}
		}
	}
	var ps []piece
	var stack []piece
	for i, a := range atoms {
		keep := 0
		for keep < len(stack) && a.marks.same(stack[keep].marks, stack[keep].kind) {
			keep++
		}
		for j := len(stack) - 1; j >= keep; j-- {
			ps = append(ps, piece{kind: stack[j].kind, marks: stack[j].marks})
		}
		stack = stack[:keep]
		var missing []wikiKind
		for k := range numKinds {
			if a.marks.has[k] && !slices.ContainsFunc(stack, func(p piece) bool { return p.kind == k }) {
				missing = append(missing, k)
			}
		}
		slices.SortStableFunc(missing, func(x, y wikiKind) int { return run[i][y] - run[i][x] })
		for _, k := range missing {
			p := piece{open: true, kind: k, marks: a.marks}
			ps = append(ps, p)
			stack = append(stack, p)
		}
		s := escapeText(a.text)
		if a.marks.code {
			s = "{{" + s + "}}"
		}
		ps = append(ps, piece{s: s, atom: true, marks: a.marks})
	}
	for j := len(stack) - 1; j >= 0; j-- {
		ps = append(ps, piece{kind: stack[j].kind, marks: stack[j].marks})
	}

	// A span uses the braced form at both ends if either end needs it.
	braced := make([]bool, len(ps))
	var opens []int
	for i, p := range ps {
		switch {
		case p.atom || p.kind == kLink:
		case p.open:
			opens = append(opens, i)
		default:
			o := opens[len(opens)-1]
			opens = opens[:len(opens)-1]
			if !boundary(ps, o) || !boundary(ps, i) {
				braced[o], braced[i] = true, true
			}
		}
	}

	var b strings.Builder
	for i := 0; i < len(ps); i++ {
		p := ps[i]
		switch {
		case p.atom:
			b.WriteString(p.s)
		case p.kind == kLink && p.open:
			// A link whose text is its address is written [address].
			if i+2 < len(ps) && ps[i+1].atom && !ps[i+2].atom && !ps[i+2].open && ps[i+2].kind == kLink &&
				!ps[i+1].marks.code && ps[i+1].s == escapeText(p.marks.href) && linkURL(p.marks.href) == p.marks.href &&
				looksLikeURL(p.marks.href) {
				b.WriteString("[" + p.marks.href + "]")
				i += 2
				continue
			}
			b.WriteString("[")
		case p.kind == kLink:
			b.WriteString("|" + linkURL(p.marks.href) + "]")
		default:
			d := delimOf(p.kind)
			if braced[i] {
				d = "{" + d + "}"
			}
			b.WriteString(d)
		}
	}
	return b.String()
}

// boundary reports whether the delimiter at ps[i] sits where Jira reads a
// plain delimiter: not against a letter or digit outside the span. Elsewhere
// the braced form ("{*}") is used, which Jira reads anywhere.
func boundary(ps []piece, i int) bool {
	j := i + 1
	if ps[i].open {
		j = i - 1
	}
	if j < 0 || j >= len(ps) || !ps[j].atom {
		return true // line edge or another delimiter
	}
	s := []rune(ps[j].s)
	r := s[0]
	if ps[i].open {
		r = s[len(s)-1]
	}
	if unicode.IsSpace(r) {
		return true
	}
	if ps[i].open {
		return strings.ContainsRune(`("'[`, r)
	}
	return strings.ContainsRune(`.,;:!?)"'`, r)
}

// linkURL keeps a URL from ending the link early or splitting it.
func linkURL(href string) string {
	var b strings.Builder
	for _, r := range href {
		switch r {
		case '|':
			b.WriteString("%7C")
		case ']':
			b.WriteString("%5D")
		case '[':
			b.WriteString("%5B")
		case ' ':
			b.WriteString("%20")
		case '\n':
			b.WriteString("%0A")
		case '\r':
			b.WriteString("%0D")
		case '\t':
			b.WriteString("%09")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
