package wiki

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/jira/adf"
)

// textOf returns the characters of a document's text without whitespace:
// what a reader sees, whatever the formatting.
func textOf(n *adf.Node) string {
	var b strings.Builder
	var walk func(*adf.Node)
	walk = func(n *adf.Node) {
		if n == nil {
			return
		}
		b.WriteString(n.Text)
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, b.String())
}

// FuzzWikiRoundTrip checks that neither direction panics on any input, and
// that Markdown sent through wiki markup and back keeps its text exactly:
// a character that escaping missed would turn into formatting or vanish.
func FuzzWikiRoundTrip(f *testing.F) {
	for _, md := range wikiCorpus() {
		f.Add(md)
	}
	for _, s := range []string{
		"", "*", "{code}", "{code}x", "{quote}\n{code}\n{quote}", "[", "[~]", "[~accountid:]", "!!", "!a.png",
		"||a||\n|b", "|", "* a\n{code}\nx", "*** a\n# b\n#* c", "h1.", "bq.", "----", "{{", "{{x}}}", "&#", "&#xZZ;",
		"{panel:title=t}", "{color:red}", "\\", "\\\\", "a\r\n* b\r\n", "{*}a{*}", "??a??", "-a- +b+ ^c^ ~d~",
		"```\n{code}{noformat}\n```", "- ```\n  x\n  ```", "> - a\n>\n> ```\n> {quote}\n> ```",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_ = ToMarkdown(in) // any wiki text
		w := FromMarkdown(in)
		back := ToMarkdown(w)
		if !utf8.ValidString(in) {
			return
		}
		want, got := textOf(adf.FromMarkdown(in)), textOf(adf.FromMarkdown(back))
		if want != got {
			t.Fatalf("text changed through wiki markup\nmd:   %q\nwiki: %q\nback: %q\nwant text %q\ngot text  %q", in, w, back, want, got)
		}
	})
}
