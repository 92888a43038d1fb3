package wiki

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/yuin/goldmark/util"
)

// ToMarkdown converts Jira wiki markup, such as a webhook's comment body, to
// Markdown. A single newline inside a paragraph is a line break in Jira and
// stays one. Tables become one line per cell, images are dropped, mentions
// become "@name", panels and colours give up their content.
func ToMarkdown(w string) string {
	return adf.ToMarkdown(parse(w))
}

// parse reads wiki markup into an ADF tree. The tree is for rendering, not
// for sending: it may hold what the ADF schema forbids, such as a heading
// inside a quote.
func parse(w string) *adf.Node {
	w = strings.ReplaceAll(w, "\r\n", "\n")
	w = strings.ReplaceAll(w, "\r", "\n")
	return &adf.Node{Type: adf.TypeDoc, Version: 1, Content: parseBlocks(strings.Split(w, "\n"))}
}

// isContainerMacro reports whether a macro holds blocks, which are parsed
// as wiki markup; code and noformat hold raw text.
func isContainerMacro(name string) bool {
	switch name {
	case "quote", "panel", "info", "note", "tip", "warning", "section", "column", "expand":
		return true
	}
	return false
}

func isCodeMacro(name string) bool { return name == "code" || name == "noformat" }

// parseBlocks reads lines into blocks. Block macros may open and close
// anywhere in a line, so a line holding one is split around it and the
// pieces are read again.
func parseBlocks(src []string) []*adf.Node {
	lines := append([]string(nil), src...)
	var out []*adf.Node
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, &adf.Node{Type: adf.TypeParagraph, Content: parseLines(para)})
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" {
			flush()
			continue
		}
		if pos, name := findBlockMacro(t); pos >= 0 {
			if pos > 0 {
				// Text before the macro is a line of its own.
				lines = slices.Insert(lines, i+1, t[pos:])
				lines[i] = t[:pos]
				i--
				continue
			}
			flush()
			node, end, rest := readMacro(lines, i, name)
			out = append(out, node...)
			i = end
			if strings.TrimSpace(rest) != "" {
				lines[i] = rest
				i--
			}
			continue
		}
		switch {
		case isHeading(t):
			flush()
			level := int(t[1] - '0')
			out = append(out, &adf.Node{
				Type:    adf.TypeHeading,
				Attrs:   map[string]any{"level": level},
				Content: parseInline(strings.TrimSpace(t[3:])),
			})
		case t == "bq." || strings.HasPrefix(t, "bq. "):
			flush()
			out = append(out, &adf.Node{Type: adf.TypeBlockquote, Content: []*adf.Node{
				{Type: adf.TypeParagraph, Content: parseInline(strings.TrimSpace(t[3:]))},
			}})
		case len(t) >= 4 && strings.Trim(t, "-") == "":
			flush()
			out = append(out, &adf.Node{Type: adf.TypeRule})
		case listMarker(t) != "":
			flush()
			var list []*adf.Node
			list, i = readList(lines, i)
			out = append(out, list...)
		case t[0] == '|':
			flush()
			table := &adf.Node{Type: "table"}
			for ; i < len(lines); i++ {
				row := strings.TrimSpace(lines[i])
				if row == "" || row[0] != '|' {
					break
				}
				table.Content = append(table.Content, parseRow(row))
			}
			i--
			out = append(out, table)
		default:
			para = append(para, t)
		}
	}
	flush()
	return out
}

// isHeading reports whether a line is "h1. title" through "h6.".
func isHeading(t string) bool {
	return len(t) >= 3 && t[0] == 'h' && t[1] >= '1' && t[1] <= '6' && t[2] == '.' &&
		(len(t) == 3 || t[3] == ' ' || t[3] == '\t')
}

// listMarker returns the "*", "#" or "-" marker that starts a list line.
func listMarker(t string) string {
	n := 0
	for n < len(t) && (t[n] == '*' || t[n] == '#' || t[n] == '-') {
		n++
	}
	if n == 0 || (n < len(t) && t[n] != ' ' && t[n] != '\t') {
		return ""
	}
	m := t[:n]
	if strings.Contains(m, "-") {
		// Only a single dash is a list; "--" is a dash, "----" a rule.
		if m != "-" || n == len(t) {
			return ""
		}
	}
	return m
}

// findBlockMacro finds the first code, noformat or container macro tag in a
// line, skipping escaped braces and {{monospace}}.
func findBlockMacro(t string) (int, string) {
	for i := 0; i < len(t); i++ {
		switch {
		case t[i] == '\\':
			i++
		case strings.HasPrefix(t[i:], "{{"):
			end := strings.Index(t[i+2:], "}}")
			if end < 0 {
				return -1, ""
			}
			i += end + 3
		case t[i] == '{':
			name, _, ok := macroTag(t[i:])
			if ok && (isCodeMacro(name) || isContainerMacro(name)) {
				return i, name
			}
		}
	}
	return -1, ""
}

// macroTag reads "{name}" or "{name:params}" at the start of s, returning
// the lower-cased name and the tag's length.
func macroTag(s string) (string, int, bool) {
	if len(s) < 3 || s[0] != '{' {
		return "", 0, false
	}
	n := 1
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z') {
		n++
	}
	if n == 1 || n == len(s) || (s[n] != '}' && s[n] != ':') {
		return "", 0, false
	}
	end := strings.IndexByte(s[n:], '}')
	if end < 0 {
		return "", 0, false
	}
	return strings.ToLower(s[1:n]), n + end + 1, true
}

// readMacro reads the macro that starts line i and returns its blocks, the
// line where it ends and the rest of that line after the closing tag.
func readMacro(lines []string, i int, name string) ([]*adf.Node, int, string) {
	t := strings.TrimSpace(lines[i])
	_, tagLen, _ := macroTag(t)
	params := ""
	if p := t[:tagLen-1]; strings.Contains(p, ":") {
		params = p[strings.IndexByte(p, ':')+1:]
	}
	body, end, rest := macroBody(lines, i, t[tagLen:], name)
	if isCodeMacro(name) {
		body = strings.TrimPrefix(body, "\n")
		body = strings.TrimSuffix(body, "\n")
		lang := ""
		if name == "code" {
			lang = codeLanguage(params)
		}
		n := &adf.Node{Type: adf.TypeCodeBlock}
		if lang != "" {
			n.Attrs = map[string]any{"language": lang}
		}
		if body != "" {
			n.Content = []*adf.Node{{Type: adf.TypeText, Text: body}}
		}
		return []*adf.Node{n}, end, rest
	}
	inner := parseBlocks(strings.Split(body, "\n"))
	if name == "quote" {
		if len(inner) == 0 {
			return nil, end, rest
		}
		return []*adf.Node{{Type: adf.TypeBlockquote, Content: inner}}, end, rest
	}
	// Panels and the like have no Markdown form; their title and content do.
	if title := macroParam(params, "title"); title != "" {
		inner = append([]*adf.Node{{Type: adf.TypeParagraph, Content: []*adf.Node{
			{Type: adf.TypeText, Text: title, Marks: []adf.Mark{adf.Strong()}},
		}}}, inner...)
	}
	return inner, end, rest
}

// macroBody collects the text up to the closing tag, which may sit on any
// later line. Inside a container, code bodies are skipped over so that a
// "{quote}" in a code sample does not end the quote.
func macroBody(lines []string, i int, first, name string) (string, int, string) {
	closeTag := "{" + name + "}"
	raw := isCodeMacro(name)
	var b strings.Builder
	cur := first
	skipTo := "" // the tag ending a code body nested in a container
	for {
		if skipTo != "" {
			if idx := strings.Index(strings.ToLower(cur), skipTo); idx >= 0 {
				b.WriteString(cur[:idx+len(skipTo)])
				cur = cur[idx+len(skipTo):]
				skipTo = ""
				continue
			}
		} else {
			idx := indexTag(cur, closeTag, !raw)
			if !raw {
				if pos, inner := findBlockMacro(cur); pos >= 0 && isCodeMacro(inner) && (idx < 0 || pos < idx) {
					_, tagLen, _ := macroTag(cur[pos:])
					b.WriteString(cur[:pos+tagLen])
					cur = cur[pos+tagLen:]
					skipTo = "{" + inner + "}"
					continue
				}
			}
			if idx >= 0 {
				b.WriteString(cur[:idx])
				return b.String(), i, cur[idx+len(closeTag):]
			}
		}
		b.WriteString(cur)
		i++
		if i >= len(lines) {
			// An unclosed macro runs to the end, as in Jira.
			return b.String(), len(lines) - 1, ""
		}
		b.WriteByte('\n')
		cur = lines[i]
	}
}

// indexTag finds tag in s ignoring case; where escapes count, a tag behind
// a backslash is text.
func indexTag(s, tag string, escapes bool) int {
	lower := strings.ToLower(s)
	for from := 0; ; {
		idx := strings.Index(lower[from:], tag)
		if idx < 0 {
			return -1
		}
		idx += from
		if escapes && idx > 0 && s[idx-1] == '\\' {
			from = idx + 1
			continue
		}
		return idx
	}
}

// codeLanguage picks the language from {code:...} parameters: the first one
// without "=" ({code:java|title=x}), or language=.
func codeLanguage(params string) string {
	for _, p := range strings.Split(params, "|") {
		p = strings.TrimSpace(p)
		if k, v, ok := strings.Cut(p, "="); ok {
			if strings.EqualFold(strings.TrimSpace(k), "language") || strings.EqualFold(strings.TrimSpace(k), "lang") {
				return normLanguage(v)
			}
			continue
		}
		return normLanguage(p)
	}
	return ""
}

func normLanguage(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return "" // Jira's name for no highlighting
	}
	return s
}

func macroParam(params, key string) string {
	for _, p := range strings.Split(params, "|") {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readList reads consecutive list lines starting at line i into lists,
// nesting by the length of each marker. A code macro directly under an item
// belongs to that item.
func readList(lines []string, i int) ([]*adf.Node, int) {
	type level struct {
		list *adf.Node
		kind byte
	}
	var out []*adf.Node
	var stack []level
	var lastItem *adf.Node
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		m := listMarker(t)
		if m == "" {
			if pos, name := findBlockMacro(t); lastItem != nil && pos == 0 && isCodeMacro(name) {
				node, end, rest := readMacro(lines, i, name)
				lastItem.Content = append(lastItem.Content, node...)
				i = end
				if strings.TrimSpace(rest) != "" {
					lines[i] = rest
					break
				}
				continue
			}
			break
		}
		if m == "-" {
			m = "*"
		}
		// Keep the levels whose kind matches the marker's prefix.
		keep := 0
		for keep < len(stack) && keep < len(m) && stack[keep].kind == m[keep] {
			keep++
		}
		stack = stack[:keep]
		for len(stack) < len(m) {
			k := m[len(stack)]
			typ := adf.TypeBulletList
			if k == '#' {
				typ = adf.TypeOrderedList
			}
			list := &adf.Node{Type: typ}
			if len(stack) == 0 {
				out = append(out, list)
			} else {
				parent := stack[len(stack)-1].list
				if len(parent.Content) == 0 {
					// A marker that skips a level: give the missing level
					// an empty item to hang from.
					parent.Content = append(parent.Content, &adf.Node{Type: adf.TypeListItem, Content: []*adf.Node{{Type: adf.TypeParagraph}}})
				}
				item := parent.Content[len(parent.Content)-1]
				item.Content = append(item.Content, list)
			}
			stack = append(stack, level{list, k})
		}
		text := strings.TrimSpace(t[len(m):])
		lastItem = &adf.Node{Type: adf.TypeListItem, Content: []*adf.Node{{Type: adf.TypeParagraph, Content: parseInline(text)}}}
		top := stack[len(stack)-1].list
		top.Content = append(top.Content, lastItem)
	}
	return out, i - 1
}

// parseRow splits a table row into cells; "||" marks header cells.
func parseRow(row string) *adf.Node {
	tr := &adf.Node{Type: "tableRow"}
	i := 0
	for i < len(row) {
		if row[i] != '|' {
			break
		}
		typ := "tableCell"
		i++
		if i < len(row) && row[i] == '|' {
			typ = "tableHeader"
			i++
		}
		end := cellEnd(row, i)
		cell := strings.TrimSpace(row[i:end])
		i = end
		if end == len(row) && cell == "" {
			break // the row's closing bar
		}
		tr.Content = append(tr.Content, &adf.Node{Type: typ, Content: []*adf.Node{
			{Type: adf.TypeParagraph, Content: parseInline(cell)},
		}})
	}
	return tr
}

// cellEnd finds the bar ending the cell at i, ignoring bars in links,
// monospace and escapes.
func cellEnd(row string, i int) int {
	for i < len(row) {
		switch {
		case row[i] == '\\':
			i += 2
			continue
		case strings.HasPrefix(row[i:], "{{"):
			if e := strings.Index(row[i+2:], "}}"); e >= 0 {
				i += e + 4
				continue
			}
		case row[i] == '[':
			if e := strings.IndexByte(row[i:], ']'); e >= 0 {
				i += e + 1
				continue
			}
		case row[i] == '|':
			return i
		}
		i++
	}
	return len(row)
}

// parseLines parses paragraph lines, each a line break from the next.
func parseLines(lines []string) []*adf.Node {
	var out []*adf.Node
	for i, l := range lines {
		if i > 0 {
			out = append(out, &adf.Node{Type: adf.TypeHardBreak})
		}
		out = append(out, parseInline(l)...)
	}
	return out
}

// Inline parsing.

type tokKind int

const (
	tText tokKind = iota
	tNode
	tDelim
	tBreak
)

// Delimiter kinds, in the order of marks.
const (
	dStrong = iota
	dEm
	dStrike
	dUnderline
	dSup
	dSub
	dCite
	numDelims
)

// delimKind maps a text-effect delimiter to its kind.
func delimKind(d string) (int, bool) {
	switch d {
	case "*":
		return dStrong, true
	case "_":
		return dEm, true
	case "-":
		return dStrike, true
	case "+":
		return dUnderline, true
	case "^":
		return dSup, true
	case "~":
		return dSub, true
	case "??":
		return dCite, true
	}
	return 0, false
}

func delimMark(k int) adf.Mark {
	switch k {
	case dStrong:
		return adf.Strong()
	case dStrike:
		return adf.Strike()
	case dUnderline:
		return adf.Mark{Type: "underline"}
	case dSup:
		return adf.Mark{Type: "subsup", Attrs: map[string]any{"type": "sup"}}
	case dSub:
		return adf.Mark{Type: "subsup", Attrs: map[string]any{"type": "sub"}}
	}
	return adf.Em() // _emphasis_ and ??citation??, which Jira shows in italics
}

type tok struct {
	kind     tokKind
	text     string
	node     *adf.Node
	delim    int
	canOpen  bool
	canClose bool
	opens    bool // matched as an opener
	closes   bool // matched as a closer
}

// parseInline parses one line of inline markup.
func parseInline(s string) []*adf.Node {
	toks := tokenize(s, true)
	// Formatting never spans a "\\" break: match each stretch on its own.
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i == len(toks) || toks[i].kind == tBreak {
			matchDelims(toks[start:i])
			start = i + 1
		}
	}
	return build(toks)
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// tokenize splits a line into text, delimiters and ready-made nodes (code,
// links, mentions). links is false inside a link's text.
func tokenize(s string, links bool) []tok {
	var toks []tok
	var text strings.Builder
	flushText := func() {
		if text.Len() > 0 {
			toks = append(toks, tok{kind: tText, text: text.String()})
			text.Reset()
		}
	}
	runeBefore := func(i int) rune {
		if i == 0 {
			return -1
		}
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		return r
	}
	runeAt := func(i int) rune {
		if i >= len(s) {
			return -1
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		return r
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\\':
			flushText()
			toks = append(toks, tok{kind: tBreak})
			i += 2
			continue
		case c == '\\' && i+1 < len(s) && isASCIIPunct(rune(s[i+1])):
			text.WriteByte(s[i+1])
			i += 2
			continue
		case c == '&':
			if r, n := decodeEntity(s[i:]); n > 0 {
				text.WriteString(r)
				i += n
				continue
			}
		case strings.HasPrefix(s[i:], "{{"):
			if end := findUnescaped(s[i+2:], "}}"); end > 0 {
				flushText()
				code := unescapeText(s[i+2 : i+2+end])
				toks = append(toks, tok{kind: tNode, node: &adf.Node{Type: adf.TypeText, Text: code, Marks: []adf.Mark{adf.Code()}}})
				i += end + 4
				continue
			}
		case c == '{':
			if d, n := bracedDelim(s[i:]); n > 0 {
				flushText()
				toks = append(toks, tok{kind: tDelim, delim: d, text: s[i : i+n], canOpen: true, canClose: true})
				i += n
				continue
			}
			if name, n, ok := macroTag(s[i:]); ok && (name == "color" || name == "anchor") {
				i += n // colour and anchors have no Markdown form; their text stays
				continue
			}
		case c == '[' && links:
			if nodes, n := parseLink(s[i:]); n > 0 {
				flushText()
				for _, nd := range nodes {
					toks = append(toks, tok{kind: tNode, node: nd})
				}
				i += n
				continue
			}
		case c == '!':
			if n := imageLen(s[i:]); n > 0 {
				i += n // images cannot travel; drop them
				continue
			}
		case strings.HasPrefix(s[i:], "??") && !strings.HasPrefix(s[i+2:], "?"):
			if t, ok := plainDelim(dCite, "??", runeBefore(i), runeAt(i+2)); ok {
				flushText()
				toks = append(toks, t)
				i += 2
				continue
			}
		case strings.IndexByte("*_-+^~", c) >= 0:
			prev, next := runeBefore(i), runeAt(i+1)
			escapedPrev := i >= 2 && s[i-2] == '\\'
			if next != rune(c) && (prev != rune(c) || escapedPrev) {
				kind, _ := delimKind(string(c))
				if t, ok := plainDelim(kind, string(c), prev, next); ok {
					flushText()
					toks = append(toks, t)
					i++
					continue
				}
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		text.WriteString(s[i : i+size])
		i += size
	}
	flushText()
	return toks
}

// plainDelim classifies a delimiter by its neighbours: it opens before a
// non-space when not glued to a word on its left, and closes after a
// non-space when not glued to a word on its right.
func plainDelim(kind int, text string, prev, next rune) (tok, bool) {
	t := tok{kind: tDelim, delim: kind, text: text}
	t.canOpen = next != -1 && !isSpace(next) && !isAlnum(prev)
	t.canClose = prev != -1 && !isSpace(prev) && !isAlnum(next)
	return t, t.canOpen || t.canClose
}

// bracedDelim reads "{*}", "{_}", "{??}" and the like, which Jira reads as
// formatting even inside words.
func bracedDelim(s string) (int, int) {
	if strings.HasPrefix(s, "{??}") {
		return dCite, 4
	}
	if len(s) >= 3 && s[2] == '}' {
		if k, ok := delimKind(s[1:2]); ok {
			return k, 3
		}
	}
	return 0, 0
}

func findUnescaped(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], sub) {
			return i
		}
	}
	return -1
}

// unescapeText resolves backslash escapes and character references.
func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) && isASCIIPunct(rune(s[i+1])) && s[i+1] != '\\' {
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		if s[i] == '&' {
			if r, n := decodeEntity(s[i:]); n > 0 {
				b.WriteString(r)
				i += n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// decodeEntity decodes an HTML character reference at the start of s.
func decodeEntity(s string) (string, int) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 40 {
		return "", 0
	}
	body := s[1:end]
	if body[0] == '#' {
		digits, base := body[1:], 10
		if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
			digits, base = digits[1:], 16
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil || len(digits) == 0 {
			return "", 0
		}
		return string(util.ToValidRune(rune(v))), end + 1
	}
	for _, r := range body {
		if !(r < 128 && isAlnum(r)) {
			return "", 0
		}
	}
	if e, ok := util.LookUpHTML5EntityByName(body); ok {
		return string(e.Characters), end + 1
	}
	return "", 0
}

// imageLen returns the length of an "!image.png!" or "!url|params!" at the
// start of s, or 0.
func imageLen(s string) int {
	if len(s) < 3 {
		return 0
	}
	r, _ := utf8.DecodeRuneInString(s[1:])
	if isSpace(r) {
		return 0
	}
	end := strings.IndexByte(s[1:], '!')
	if end <= 0 {
		return 0
	}
	target, _, _ := strings.Cut(s[1:1+end], "|")
	if target == "" || strings.ContainsFunc(target, isSpace) || !strings.ContainsAny(target, "./") {
		return 0
	}
	return end + 2
}

// parseLink reads a [link], [alias|link], [~user] or [^attachment] at the
// start of s, returning its nodes and length; 0 when it is not one, in
// which case the bracket is text.
func parseLink(s string) ([]*adf.Node, int) {
	end := findUnescaped(s[1:], "]")
	if end < 0 {
		return nil, 0
	}
	body := s[1 : 1+end]
	n := end + 2
	alias, target, hasAlias := "", body, false
	if bar := findUnescaped(body, "|"); bar >= 0 {
		alias, target, hasAlias = body[:bar], body[bar+1:], true
		if tip := findUnescaped(target, "|"); tip >= 0 {
			target = target[:tip] // [alias|url|tooltip]
		}
	}
	target = strings.TrimSpace(target)
	switch {
	case strings.HasPrefix(target, "~"):
		id := strings.TrimPrefix(target[1:], "accountid:")
		name := id
		if hasAlias && strings.TrimSpace(alias) != "" {
			name = strings.TrimSpace(unescapeText(alias))
		}
		if id == "" {
			return nil, 0
		}
		return []*adf.Node{{Type: adf.TypeMention, Attrs: map[string]any{"id": id, "text": "@" + name}}}, n
	case strings.HasPrefix(target, "^"), strings.HasPrefix(target, "#"):
		// An attachment or an anchor: nothing to link to outside Jira.
		text := target[1:]
		if hasAlias && strings.TrimSpace(alias) != "" {
			return tokensToNodes(alias), n
		}
		if text == "" {
			return nil, 0
		}
		return []*adf.Node{{Type: adf.TypeText, Text: text}}, n
	}
	if !hasAlias && !looksLikeURL(target) {
		return nil, 0
	}
	if target == "" {
		return nil, 0
	}
	link := adf.Link(target)
	var nodes []*adf.Node
	if hasAlias {
		nodes = tokensToNodes(alias)
	}
	if len(nodes) == 0 {
		// [mailto:a@b.test] shows the address alone.
		text := target
		if strings.HasPrefix(strings.ToLower(text), "mailto:") && len(text) > len("mailto:") {
			text = text[len("mailto:"):]
		}
		nodes = []*adf.Node{{Type: adf.TypeText, Text: text}}
	}
	for _, nd := range nodes {
		nd.Marks = append(nd.Marks, link)
	}
	return nodes, n
}

// tokensToNodes parses a link's text, which may be formatted but holds no
// links.
func tokensToNodes(s string) []*adf.Node {
	toks := tokenize(s, false)
	matchDelims(toks)
	return build(toks)
}

func looksLikeURL(s string) bool {
	if strings.HasPrefix(strings.ToLower(s), "www.") {
		return true
	}
	colon := strings.IndexByte(s, ':')
	if colon < 1 {
		return false
	}
	for i, r := range s[:colon] {
		if !(r < 128 && (unicode.IsLetter(r) || i > 0 && (unicode.IsDigit(r) || r == '+' || r == '-' || r == '.'))) {
			return false
		}
	}
	return colon+1 < len(s)
}

// matchDelims pairs delimiters: a closer takes the nearest opener of its
// kind, and openers left between them stay text. Per-kind stacks keep this
// linear however many openers go unmatched.
func matchDelims(toks []tok) {
	var stack []int             // indexes of pending openers
	var byKind [numDelims][]int // positions in stack per kind
	for i := range toks {
		t := &toks[i]
		if t.kind != tDelim {
			continue
		}
		if t.canClose {
			if ks := byKind[t.delim]; len(ks) > 0 {
				pos := ks[len(ks)-1]
				open := stack[pos]
				if open+1 < i { // not empty
					toks[open].opens, t.closes = true, true
					stack = stack[:pos]
					for k := range byKind {
						for len(byKind[k]) > 0 && byKind[k][len(byKind[k])-1] >= pos {
							byKind[k] = byKind[k][:len(byKind[k])-1]
						}
					}
					continue
				}
			}
		}
		if t.canOpen {
			byKind[t.delim] = append(byKind[t.delim], len(stack))
			stack = append(stack, i)
		}
	}
}

// build turns matched tokens into ADF inline nodes; unmatched delimiters
// are text.
func build(toks []tok) []*adf.Node {
	var active [numDelims]int
	var out []*adf.Node
	for _, t := range toks {
		switch {
		case t.opens:
			active[t.delim]++
			continue
		case t.closes:
			active[t.delim]--
			continue
		}
		var marks []adf.Mark
		for k := range numDelims {
			if active[k] > 0 && !(k == dCite && active[dEm] > 0) {
				marks = append(marks, delimMark(k))
			}
		}
		switch t.kind {
		case tBreak:
			out = append(out, &adf.Node{Type: adf.TypeHardBreak})
		case tNode:
			n := *t.node
			n.Marks = append(append([]adf.Mark(nil), n.Marks...), marks...)
			out = append(out, &n)
		default:
			if t.text != "" {
				out = append(out, &adf.Node{Type: adf.TypeText, Text: t.text, Marks: marks})
			}
		}
	}
	return out
}
