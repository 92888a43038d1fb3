package adf

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown is CommonMark plus GFM strikethrough. Tables, task lists and
// autolinked bare URLs are left out on purpose: text that looks like them
// stays text, which ToMarkdown can always reproduce.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Strikethrough)).Parser()

// FromMarkdown converts Markdown (CommonMark with GFM strikethrough) to an
// ADF document. It never fails: constructs ADF cannot hold are reduced to
// their text (images become links, raw HTML becomes text, headings inside
// quotes or list items become bold paragraphs).
func FromMarkdown(md string) *Node {
	// CommonMark replaces NUL before parsing, not after: emphasis must see
	// the same character ToMarkdown will write back.
	// Lone carriage returns end lines too, which goldmark does not know.
	md = strings.ReplaceAll(md, "\x00", "\uFFFD")
	md = strings.ReplaceAll(md, "\r\n", "\n")
	md = strings.ReplaceAll(md, "\r", "\n")
	src := []byte(md)
	root := markdown.Parse(text.NewReader(src))
	c := mdConverter{src: src}
	return Doc(c.blocks(root)...)
}

type mdConverter struct {
	src []byte
}

func (c *mdConverter) blocks(parent ast.Node) []*Node {
	var out []*Node
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		out = append(out, c.block(n)...)
	}
	return out
}

func (c *mdConverter) block(n ast.Node) []*Node {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		inline := c.inlines(n)
		if len(inline) == 0 {
			return nil // "[]()" and the like: nothing Markdown could write back
		}
		return []*Node{Paragraph(inline...)}
	case *ast.Heading:
		return []*Node{Heading(n.Level, c.inlines(n)...)}
	case *ast.ThematicBreak:
		return []*Node{Rule()}
	case *ast.FencedCodeBlock:
		lang := ""
		if n.Info != nil {
			// goldmark ends the language at a space only; a tab ends a
			// word too.
			if f := strings.Fields(unescape(n.Language(c.src))); len(f) > 0 {
				lang = f[0]
			}
		}
		return []*Node{CodeBlock(lang, c.lines(n.Lines()))}
	case *ast.CodeBlock:
		return []*Node{CodeBlock("", c.lines(n.Lines()))}
	case *ast.Blockquote:
		return []*Node{Blockquote(c.blocks(n)...)}
	case *ast.List:
		var items []*Node
		for it := n.FirstChild(); it != nil; it = it.NextSibling() {
			items = append(items, ListItem(c.blocks(it)...))
		}
		if n.IsOrdered() {
			return []*Node{OrderedList(n.Start, items...)}
		}
		return []*Node{BulletList(items...)}
	case *ast.HTMLBlock:
		// Jira would show raw HTML as text, so that is what it becomes.
		s := c.lines(n.Lines())
		if n.HasClosure() {
			s += "\n" + string(n.ClosureLine.Value(c.src))
		}
		s = strings.TrimRight(s, "\n")
		if s == "" {
			return nil
		}
		return []*Node{Paragraph(Text(s))}
	}
	return c.blocks(n)
}

// lines joins a block's raw lines, restoring the indentation goldmark keeps
// as padding, without the final line ending.
func (c *mdConverter) lines(segs *text.Segments) string {
	var b bytes.Buffer
	for i := 0; i < segs.Len(); i++ {
		seg := segs.At(i)
		b.Write(bytes.Repeat([]byte{' '}, seg.Padding))
		b.Write(seg.Value(c.src))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (c *mdConverter) inlines(parent ast.Node) []*Node {
	var out []*Node
	c.inline(parent, nil, &out)
	return out
}

func withMark(marks []Mark, m Mark) []Mark {
	out := make([]Mark, 0, len(marks)+1)
	for _, old := range marks {
		if old.Type != m.Type {
			out = append(out, old)
		}
	}
	return append(out, m)
}

func hasMark(marks []Mark, typ string) bool {
	for _, m := range marks {
		if m.Type == typ {
			return true
		}
	}
	return false
}

func (c *mdConverter) inline(parent ast.Node, marks []Mark, out *[]*Node) {
	emit := func(s string, marks []Mark) {
		if s != "" {
			*out = append(*out, Text(s, marks...))
		}
	}
	for n := parent.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Text:
			v := n.Segment.Value(c.src)
			if n.IsRaw() {
				emit(string(v), marks)
			} else {
				emit(unescape(v), marks)
			}
			switch {
			case n.HardLineBreak():
				*out = append(*out, HardBreak())
			case n.SoftLineBreak():
				// A single newline in Markdown is a space; only hard
				// breaks are line breaks.
				emit(" ", marks)
			}
		case *ast.String:
			if n.IsCode() || n.IsRaw() {
				emit(string(n.Value), marks)
			} else {
				emit(unescape(n.Value), marks)
			}
		case *ast.CodeSpan:
			var b strings.Builder
			for t := n.FirstChild(); t != nil; t = t.NextSibling() {
				if t, ok := t.(*ast.Text); ok {
					b.Write(t.Segment.Value(c.src))
				}
			}
			emit(strings.ReplaceAll(b.String(), "\n", " "), withMark(marks, Code()))
		case *ast.Emphasis:
			m := Em()
			if n.Level >= 2 {
				m = Strong()
			}
			c.inline(n, withMark(marks, m), out)
		case *east.Strikethrough:
			c.inline(n, withMark(marks, Strike()), out)
		case *ast.Link:
			href := unescape(n.Destination)
			marks := withMark(marks, linkMark(href, unescape(n.Title)))
			before := len(*out)
			c.inline(n, marks, out)
			if len(*out) == before {
				emit(href, marks) // a link needs text to be seen
			}
		case *ast.AutoLink:
			label := string(n.Label(c.src))
			href := string(n.URL(c.src))
			if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(href), "mailto:") {
				href = "mailto:" + href
			}
			emit(label, withMark(marks, Link(href)))
		case *ast.Image:
			// ADF images need uploaded media; a link to the picture keeps
			// it reachable, its alt text keeps what it showed.
			dest := unescape(n.Destination)
			if !hasMark(marks, MarkLink) {
				marks := withMark(marks, linkMark(dest, unescape(n.Title)))
				before := len(*out)
				c.inline(n, marks, out)
				if len(*out) == before {
					emit(dest, marks)
				}
			} else {
				c.inline(n, marks, out)
			}
		case *ast.RawHTML:
			var b strings.Builder
			for i := 0; i < n.Segments.Len(); i++ {
				seg := n.Segments.At(i)
				b.Write(seg.Value(c.src))
			}
			emit(strings.ReplaceAll(b.String(), "\n", " "), marks)
		default:
			c.inline(n, marks, out)
		}
	}
}

func linkMark(href, title string) Mark {
	m := Link(href)
	if title != "" {
		m.Attrs["title"] = title
	}
	return m
}

// unescape resolves backslash escapes and character references in one pass,
// as CommonMark does: an escaped ampersand must not start an entity.
func unescape(v []byte) string {
	if bytes.IndexByte(v, '\\') < 0 && bytes.IndexByte(v, '&') < 0 && bytes.IndexByte(v, 0) < 0 {
		return string(v)
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		ch := v[i]
		switch {
		case ch == '\\' && i+1 < len(v) && util.IsPunct(v[i+1]):
			b.WriteByte(v[i+1])
			i += 2
			continue
		case ch == '&':
			if r, n := entity(v[i:]); n > 0 {
				b.WriteString(r)
				i += n
				continue
			}
		case ch == 0:
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		b.WriteByte(ch)
		i++
	}
	return b.String()
}

// entity decodes a character reference at the start of v, returning the
// text and the bytes consumed (0 when v does not start with one).
func entity(v []byte) (string, int) {
	end := bytes.IndexByte(v, ';')
	if len(v) < 3 || v[0] != '&' || end < 2 || end > 40 {
		return "", 0
	}
	body := v[1:end]
	if body[0] == '#' {
		digits, base := body[1:], 10
		if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
			digits, base = digits[1:], 16
		}
		if len(digits) == 0 || (base == 10 && len(digits) > 7) || (base == 16 && len(digits) > 6) {
			return "", 0
		}
		cp, err := strconv.ParseUint(string(digits), base, 32)
		if err != nil {
			return "", 0
		}
		return string(util.ToValidRune(rune(cp))), end + 1
	}
	for _, ch := range body {
		if !util.IsAlphaNumeric(ch) {
			return "", 0
		}
	}
	if e, ok := util.LookUpHTML5EntityByName(string(body)); ok {
		return string(e.Characters), end + 1
	}
	return "", 0
}
