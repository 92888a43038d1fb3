package wiki

import (
	"strings"
	"unicode"
)

// Escape makes plain text render literally in Jira wiki markup. Line breaks
// stay line breaks. Characters are escaped only where Jira could read them
// as markup, so "snake_case" and "2024-01-02" stay as they are, and the
// result is safe to place next to markup: edges are always escaped.
func Escape(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = escapeLineStart(escapeText(l))
	}
	return strings.Join(lines, "\n")
}

// phrase delimiters: Jira treats them as markup only at word boundaries.
func isPhraseDelim(r rune) bool {
	switch r {
	case '*', '_', '-', '+', '^', '~':
		return true
	}
	return false
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isASCIIPunct(r rune) bool {
	return r < 128 && (unicode.IsPunct(r) || unicode.IsSymbol(r))
}

// emoticonAt reports whether rs[i] opens one of the "(x)" emoticons Jira
// turns into icons; escaping the "(" keeps it text.
func emoticonAt(rs []rune, i int) bool {
	if rs[i] != '(' {
		return false
	}
	end := -1
	for j := i + 1; j < len(rs) && j <= i+8; j++ {
		if rs[j] == ')' {
			end = j
			break
		}
	}
	if end < 0 {
		return false
	}
	switch string(rs[i+1 : end]) {
	case "y", "n", "i", "/", "x", "!", "+", "-", "?", "on", "off", "*", "*r", "*g", "*b", "*y", "flag", "flagoff":
		return true
	}
	return false
}

// escapeText escapes one line of text.
func escapeText(s string) string {
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
		switch {
		case r == '\\':
			// "\\" is a line break and "\x" an escape; a backslash that
			// could start either is written as a character reference.
			if next == -1 || next == '\\' || isASCIIPunct(next) {
				b.WriteString("&#92;")
				continue
			}
		case r == '{' || r == '}' || r == '[' || r == ']' || r == '|':
			b.WriteByte('\\')
		case isPhraseDelim(r):
			if !isAlnum(prev) || !isAlnum(next) {
				b.WriteByte('\\')
			}
		case r == '?':
			// ??citation??; at an edge the other "?" may come from a
			// neighbouring string.
			if prev == '?' || next == '?' || prev == -1 || next == -1 {
				b.WriteByte('\\')
			}
		case r == '!':
			if next == -1 || !unicode.IsSpace(next) { // !image!
				b.WriteByte('\\')
			}
		case r == '&':
			if entityLike(rs[i:]) {
				b.WriteString("&amp;")
				continue
			}
		case r == '(':
			if emoticonAt(rs, i) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeLineStart stops a line from being read as a list, heading, quote,
// table row or rule. Characters escapeText already escaped need nothing.
func escapeLineStart(l string) string {
	t := strings.TrimLeftFunc(l, unicode.IsSpace)
	indent := l[:len(l)-len(t)]
	if t == "" {
		return l
	}
	if t[0] == '#' {
		return indent + `\` + t
	}
	if len(t) >= 3 && t[0] == 'h' && t[1] >= '1' && t[1] <= '6' && t[2] == '.' {
		return indent + t[:2] + "&#46;" + t[3:]
	}
	if strings.HasPrefix(t, "bq.") {
		return indent + "bq&#46;" + t[3:]
	}
	return l
}

// entityLike reports whether rs starts with an HTML character reference,
// which Jira would render as the character it names.
func entityLike(rs []rune) bool {
	if len(rs) < 3 || rs[0] != '&' {
		return false
	}
	i := 1
	for i < len(rs) && i < 40 && (rs[i] == '#' || rs[i] < 128 && isAlnum(rs[i])) {
		i++
	}
	return i > 1 && i < len(rs) && rs[i] == ';'
}
