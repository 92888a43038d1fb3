package adf

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/yuin/goldmark/util"
)

// Inline Markdown: ADF marks on text nodes are flat sets, Markdown spans
// nest, so rendering is choosing a nesting and delimiters that CommonMark
// will read back as the same marks, and escaping whatever would not stay
// text.

// mdMarks is the formatting Markdown can express, with each mark's place
// in the node's list: ADF lists marks outermost first, which decides the
// nesting of spans that start and end together.
type mdMarks struct {
	strong, em, strike, code bool
	link                     *Mark
	rank                     [4]int
}

func (m mdMarks) has(k markKind) bool {
	switch k {
	case kindLink:
		return m.link != nil
	case kindStrong:
		return m.strong
	case kindEm:
		return m.em
	case kindStrike:
		return m.strike
	}
	return false
}

func (m mdMarks) sameLink(o mdMarks) bool {
	if m.link == nil || o.link == nil {
		return m.link == o.link
	}
	return markEqual(*m.link, *o.link)
}

func (m mdMarks) equal(o mdMarks) bool {
	return m.strong == o.strong && m.em == o.em && m.strike == o.strike && m.code == o.code && m.sameLink(o)
}

// keepOnly drops from m the delimited marks o lacks.
func (m mdMarks) keepOnly(o mdMarks) mdMarks {
	m.strong = m.strong && o.strong
	m.em = m.em && o.em
	m.strike = m.strike && o.strike
	if !m.sameLink(o) {
		m.link = nil
	}
	return m
}

// markKind names the marks written with delimiters, in the order that
// breaks ties when spans open together: links outermost.
type markKind int

const (
	kindLink markKind = iota
	kindStrong
	kindEm
	kindStrike
)

// atom is a piece of inline content with uniform marks.
type atom struct {
	text  string
	marks mdMarks
	brk   bool
}

func marksOf(marks []Mark) mdMarks {
	var m mdMarks
	for i := range marks {
		switch marks[i].Type {
		case MarkStrong:
			m.strong, m.rank[kindStrong] = true, i
		case MarkEm:
			m.em, m.rank[kindEm] = true, i
		case MarkStrike:
			m.strike, m.rank[kindStrike] = true, i
		case MarkCode:
			m.code = true
		case MarkLink:
			if m.link == nil {
				m.link, m.rank[kindLink] = &marks[i], i
			}
		}
	}
	return m
}

// collectAtoms flattens inline nodes into atoms, keeping the text of
// inline nodes Markdown has no form for.
func collectAtoms(nodes []*Node, out []atom) []atom {
	addText := func(s string, marks []Mark) []atom {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
		m := marksOf(marks)
		for i, part := range strings.Split(s, "\n") {
			if i > 0 {
				out = append(out, atom{brk: true})
			}
			if part != "" {
				out = append(out, atom{text: part, marks: m})
			}
		}
		return out
	}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		switch n.Type {
		case TypeText:
			out = addText(n.Text, n.Marks)
		case TypeHardBreak:
			out = append(out, atom{brk: true})
		case TypeMention:
			name := strings.TrimPrefix(attrString(n, "text"), "@")
			if name == "" {
				name = attrString(n, "id")
			}
			if name != "" {
				out = addText("@"+name, n.Marks)
			}
		case TypeEmoji:
			s := attrString(n, "text")
			if s == "" {
				s = attrString(n, "shortName")
			}
			out = addText(s, n.Marks)
		case TypeInlineCard:
			if url := attrString(n, "url"); url != "" {
				out = addText(url, append(slices.Clone(n.Marks), Link(url)))
			}
		case "status":
			out = addText(attrString(n, "text"), n.Marks)
		case "date":
			out = addText(formatDate(attrString(n, "timestamp")), n.Marks)
		case "placeholder", "mediaInline", "inlineExtension", "media":
		default:
			out = addText(n.Text, n.Marks)
			out = collectAtoms(n.Content, out)
		}
	}
	return out
}

// mergeAtoms joins neighbours with the same marks, so that escaping sees
// whole words: Jira often splits text nodes.
func mergeAtoms(in []atom) []atom {
	var out []atom
	for _, a := range in {
		if n := len(out); n > 0 && !a.brk && !out[n-1].brk && out[n-1].marks.equal(a.marks) {
			out[n-1].text += a.text
			continue
		}
		out = append(out, a)
	}
	return out
}

// formatDate shows an ADF date (milliseconds since the epoch) as a day.
func formatDate(ts string) string {
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ts
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02")
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// spreadWhitespace moves whitespace at the edges of emphasised text outside
// the emphasis (CommonMark will not close "**a **"), and gives hard breaks
// the marks around them so that a break does not split a span.
func spreadWhitespace(in []atom) []atom {
	var out []atom
	neighbour := func(i int) (mdMarks, bool) {
		if i < 0 || i >= len(in) || in[i].brk {
			return mdMarks{}, false
		}
		return in[i].marks, true
	}
	for i, a := range in {
		prev, okPrev := neighbour(i - 1)
		next, okNext := neighbour(i + 1)
		if a.brk {
			m := mdMarks{}
			if okPrev && okNext {
				m = prev.keepOnly(next)
				m.code = false
			}
			out = append(out, atom{brk: true, marks: m})
			continue
		}
		if a.marks.code {
			out = append(out, a)
			continue
		}
		core := strings.TrimLeftFunc(a.text, isSpace)
		lead := a.text[:len(a.text)-len(core)]
		trimmed := strings.TrimRightFunc(core, isSpace)
		trail := core[len(trimmed):]
		core = trimmed
		if core == "" {
			m := a.marks.keepOnly(prev).keepOnly(next)
			m.link = a.marks.link // whitespace may sit in a link's text
			out = append(out, atom{text: a.text, marks: m})
			continue
		}
		if lead != "" {
			m := a.marks.keepOnly(prev)
			m.link = a.marks.link
			out = append(out, atom{text: lead, marks: m})
		}
		out = append(out, atom{text: core, marks: a.marks})
		if trail != "" {
			m := a.marks.keepOnly(next)
			m.link = a.marks.link
			out = append(out, atom{text: trail, marks: m})
		}
	}
	return out
}

// token is one step of inline output: an atom, or a mark opening or closing.
type token struct {
	atom  *atom
	open  bool
	kind  markKind
	marks mdMarks // for links: which link
}

// markTokens turns atoms into properly nested open/close tokens. Marks that
// run longer open first, so "**a *b* c**" stays one strong span; where ADF
// spans overlap, the one that must end first is closed and reopened.
func markTokens(atoms []atom) []token {
	// run[i][k]: how many atoms from i on keep mark k unchanged.
	run := make([][4]int, len(atoms)+1)
	for i := len(atoms) - 1; i >= 0; i-- {
		for k := kindLink; k <= kindStrike; k++ {
			if atoms[i].marks.has(k) && (k != kindLink || i+1 == len(atoms) || atoms[i].marks.sameLink(atoms[i+1].marks)) {
				run[i][k] = 1 + run[i+1][k]
			} else if atoms[i].marks.has(k) {
				run[i][k] = 1
			}
		}
	}
	var toks []token
	type open struct {
		kind  markKind
		marks mdMarks
	}
	var stack []open
	for i := range atoms {
		a := &atoms[i]
		keep := 0
		for keep < len(stack) {
			o := stack[keep]
			if !a.marks.has(o.kind) || (o.kind == kindLink && !a.marks.sameLink(o.marks)) {
				break
			}
			keep++
		}
		for j := len(stack) - 1; j >= keep; j-- {
			toks = append(toks, token{kind: stack[j].kind, marks: stack[j].marks})
		}
		stack = stack[:keep]
		var missing []markKind
		for k := kindLink; k <= kindStrike; k++ {
			if !a.marks.has(k) {
				continue
			}
			if !slices.ContainsFunc(stack, func(o open) bool { return o.kind == k }) {
				missing = append(missing, k)
			}
		}
		slices.SortStableFunc(missing, func(x, y markKind) int {
			if d := run[i][y] - run[i][x]; d != 0 {
				return d
			}
			return a.marks.rank[x] - a.marks.rank[y]
		})
		for _, k := range missing {
			toks = append(toks, token{open: true, kind: k, marks: a.marks})
			stack = append(stack, open{k, a.marks})
		}
		toks = append(toks, token{atom: a})
	}
	for j := len(stack) - 1; j >= 0; j-- {
		toks = append(toks, token{kind: stack[j].kind, marks: stack[j].marks})
	}
	return toks
}

// mdInline renders inline nodes; hard breaks become "\\\n" (or a space in
// headings, which cannot break).
func mdInline(nodes []*Node, heading bool) string {
	atoms := mergeAtoms(collectAtoms(nodes, nil))
	for len(atoms) > 0 && atoms[len(atoms)-1].brk {
		atoms = atoms[:len(atoms)-1]
	}
	if heading {
		for i := range atoms {
			if atoms[i].brk {
				atoms[i] = atom{text: " ", marks: mdMarks{}}
			}
		}
	}
	toks := moveEdgeSpaces(markTokens(spreadWhitespace(atoms)))
	underscore := underscoreSpans(toks)
	var b strings.Builder
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.atom != nil && t.atom.brk:
			// goldmark reads "\\\" at a line end as an escaped backslash
			// and no break; a character reference avoids the pile-up.
			if s := b.String(); strings.HasSuffix(s, `\\`) {
				b.Reset()
				b.WriteString(s[:len(s)-2] + "&#92;")
			}
			b.WriteString("\\\n")
		case t.atom != nil && t.atom.marks.code:
			b.WriteString(codeSpan(t.atom.text))
		case t.atom != nil:
			b.WriteString(escapeMDText(t.atom.text, heading))
		case t.kind == kindLink && t.open:
			if i+2 < len(toks) && autolink(toks[i+1], toks[i+2], t.marks.link) {
				b.WriteString("<" + toks[i+1].atom.text + ">")
				i += 2
				continue
			}
			// "!" right before a link would make it an image.
			if s := b.String(); strings.HasSuffix(s, "!") {
				b.Reset()
				b.WriteString(s[:len(s)-1] + `\!`)
			}
			b.WriteString("[")
		case t.kind == kindLink:
			b.WriteString("](" + mdDest(markAttrString(*t.marks.link, "href")))
			if title := markAttrString(*t.marks.link, "title"); title != "" {
				b.WriteString(" " + mdTitle(title))
			}
			b.WriteString(")")
		case t.kind == kindStrong && underscore[i]:
			b.WriteString("__")
		case t.kind == kindStrong:
			b.WriteString("**")
		case t.kind == kindStrike:
			// goldmark will not take "~~" right after a "~", escaped or
			// not; a character reference is not a "~" to it.
			if s := b.String(); strings.HasSuffix(s, `\~`) {
				b.Reset()
				b.WriteString(s[:len(s)-2] + "&#126;")
			}
			b.WriteString("~~")
		case t.kind == kindEm && underscore[i]:
			b.WriteString("_")
		case t.kind == kindEm:
			// "*" rather than "_": "_" fails inside words and next to
			// punctuation, where "**_" would stop the strong span opening.
			b.WriteString("*")
		}
	}
	return b.String()
}

func isEmphasis(t token) bool {
	return t.atom == nil && (t.kind == kindStrong || t.kind == kindEm || t.kind == kindStrike)
}

func plainAtom(t token) bool {
	return t.atom != nil && !t.atom.brk && !t.atom.marks.code
}

// moveEdgeSpaces moves whitespace from inside an emphasis delimiter to
// outside it. spreadWhitespace does this for marks that end, but a mark
// closed only to be reopened (spans that overlap in ADF but cannot in
// Markdown) would otherwise be reopened right before a space.
func moveEdgeSpaces(toks []token) []token {
	out := slices.Clone(toks)
	for changed := true; changed; {
		changed = false
		for i := 0; i+1 < len(out); i++ {
			if t, next := out[i], out[i+1]; isEmphasis(t) && t.open && plainAtom(next) {
				rest := strings.TrimLeftFunc(next.atom.text, isSpace)
				if lead := next.atom.text[:len(next.atom.text)-len(rest)]; lead != "" {
					out = moveSpace(out, i+1, rest, i, lead)
					changed = true
				}
			}
			if t, prev := out[i+1], out[i]; isEmphasis(t) && !t.open && plainAtom(prev) {
				rest := strings.TrimRightFunc(prev.atom.text, isSpace)
				if trail := prev.atom.text[len(rest):]; trail != "" {
					out = moveSpace(out, i, rest, i+2, trail)
					changed = true
				}
			}
		}
	}
	return out
}

// moveSpace replaces the text of the atom at from with rest (dropping it
// when empty) and inserts space as a plain atom at index to, counted before
// the change.
func moveSpace(toks []token, from int, rest string, to int, space string) []token {
	a := *toks[from].atom
	a.text = rest
	toks[from] = token{atom: &a}
	ins := token{atom: &atom{text: space, marks: mdMarks{link: a.marks.link}}}
	toks = slices.Insert(toks, to, ins)
	if to <= from {
		from++
	}
	if rest == "" {
		toks = slices.Delete(toks, from, from+1)
	}
	return toks
}

// underscoreSpans picks "_" and "__" for a strong or em span that opens
// right where "*" spans close, when the two runs together would make four
// or more asterisks: CommonMark splits such a run in ways that do not match
// the spans ("**a***b**" is fine, "*a**b*****c**" is not). "_" needs its
// closing side to face whitespace, punctuation or the end, so only such
// spans switch.
func underscoreSpans(toks []token) []bool {
	use := make([]bool, len(toks))
	closeOf := make([]int, len(toks))
	var stack []int
	for i, t := range toks {
		if t.atom != nil {
			continue
		}
		if t.open {
			stack = append(stack, i)
		} else if len(stack) > 0 {
			closeOf[stack[len(stack)-1]] = i
			stack = stack[:len(stack)-1]
		}
	}
	stars := func(t token) int {
		switch {
		case t.atom != nil || t.kind == kindLink || t.kind == kindStrike:
			return 0
		case t.kind == kindStrong:
			return 2
		}
		return 1
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.atom != nil || !t.open {
			continue
		}
		// The run of asterisks closing just before this group of openers.
		closing := 0
		for j := i - 1; j >= 0 && toks[j].atom == nil && !toks[j].open && stars(toks[j]) > 0 && !use[j]; j-- {
			closing += stars(toks[j])
		}
		end := i
		opening := 0
		for end < len(toks) && toks[end].atom == nil && toks[end].open {
			opening += stars(toks[end])
			end++
		}
		if closing == 0 || closing+opening < 4 {
			i = end - 1
			continue
		}
		for k := i; k < end; k++ {
			if stars(toks[k]) == 0 {
				continue
			}
			c := closeOf[k]
			if c+1 < len(toks) && toks[c+1].atom != nil && !toks[c+1].atom.brk && !toks[c+1].atom.marks.code {
				r := []rune(toks[c+1].atom.text)[0]
				if !util.IsSpaceRune(r) && !util.IsPunctRune(r) {
					continue
				}
			}
			use[k], use[c] = true, true
		}
		i = end - 1
	}
	return use
}

// autolink reports whether a link around a single plain atom can be written
// as <url>: its text is its address.
func autolink(text, closer token, link *Mark) bool {
	if text.atom == nil || text.atom.brk || text.atom.marks.code || closer.atom != nil || closer.open || closer.kind != kindLink {
		return false
	}
	if markAttrString(*link, "title") != "" {
		return false
	}
	s, href := text.atom.text, markAttrString(*link, "href")
	b := []byte(s)
	if util.FindEmailIndex(b) == len(b) {
		return href == "mailto:"+s
	}
	return href == s && util.FindURLIndex(b) == len(b)
}

func codeSpan(s string) string {
	longest, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			cur++
			longest = max(longest, cur)
		} else {
			cur = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	// CommonMark strips one space from each side when both are present, and
	// a backtick at an edge would merge with the fence.
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "") {
		s = " " + s + " "
	}
	return fence + s + fence
}

func isASCIIPunct(r rune) bool { return r < 128 && util.IsPunct(byte(r)) }

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// escapeMDText backslash-escapes what Markdown would otherwise read as
// markup, and leaves the rest readable ("snake_case", "C:\Users").
func escapeMDText(s string, heading bool) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		prev, next := rune(-1), rune(-1)
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch r {
		case '\\':
			if next == -1 || isASCIIPunct(next) {
				b.WriteByte('\\')
			}
		case '*', '`', '[', ']', '~':
			b.WriteByte('\\')
		case '_':
			// Inside a word "_" cannot open or close emphasis.
			if !isAlnum(prev) || !isAlnum(next) {
				b.WriteByte('\\')
			}
		case '<':
			if next == -1 || next < 128 && (unicode.IsLetter(next) || next == '/' || next == '!' || next == '?') {
				b.WriteByte('\\')
			}
		case '&':
			if entityLike(string(rs[i:])) {
				b.WriteByte('\\')
			}
		case '#':
			if heading { // a closing sequence would be dropped
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// entityLike reports whether s starts with something CommonMark would read
// as a character reference.
func entityLike(s string) bool {
	if len(s) < 3 || s[0] != '&' {
		return false
	}
	i := 1
	for i < len(s) && i < 40 && (s[i] == '#' || s[i] < 128 && (unicode.IsLetter(rune(s[i])) || unicode.IsDigit(rune(s[i])))) {
		i++
	}
	return i > 1 && i < len(s) && s[i] == ';'
}

func mdDest(href string) string {
	if href == "" {
		return "<>"
	}
	angle := false
	for _, r := range href {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' {
			angle = true
		}
	}
	var b strings.Builder
	if angle {
		b.WriteByte('<')
	}
	for i := 0; i < len(href); i++ {
		c := href[i]
		switch {
		case c == '\n':
			b.WriteString("%0A")
			continue
		case c == '\r':
			b.WriteString("%0D")
			continue
		case c == '\\' && (i+1 == len(href) || util.IsPunct(href[i+1])),
			c == '&' && entityLike(href[i:]),
			angle && (c == '<' || c == '>'),
			!angle && (c == '(' || c == ')'):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	if angle {
		b.WriteByte('>')
	}
	return b.String()
}

func mdTitle(title string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(title); i++ {
		c := title[i]
		switch {
		case c == '\n' || c == '\r':
			c = ' '
		case c == '"', c == '\\' && (i+1 == len(title) || util.IsPunct(title[i+1])), c == '&' && entityLike(title[i:]):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}
