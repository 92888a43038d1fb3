package adf

import (
	"fmt"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

func TestScratch(t *testing.T) {
	md := goldmark.New(goldmark.WithExtensions(extension.Strikethrough))
	for _, src := range []string{"a \\*b\\* &amp; \\&amp; c\\\nd  \ne\nf", "***a* b**", "`` a`b ``", "[x](<a b> \"t\") <http://x> <a@b.c>", "- a\n\n  b\n- c", "<div>\nhi\n</div>\n\n<b>x</b>", "~a~ ~~b~~"} {
		source := []byte(src)
		doc := md.Parser().Parse(text.NewReader(source))
		fmt.Printf("=== %q\n", src)
		ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if !entering {
				return ast.WalkContinue, nil
			}
			extra := ""
			switch x := n.(type) {
			case *ast.Text:
				extra = fmt.Sprintf("%q soft=%v hard=%v raw=%v", x.Segment.Value(source), x.SoftLineBreak(), x.HardLineBreak(), x.IsRaw())
			case *ast.String:
				extra = fmt.Sprintf("%q", x.Value)
			case *ast.Link:
				extra = fmt.Sprintf("%q %q", x.Destination, x.Title)
			case *ast.AutoLink:
				extra = fmt.Sprintf("%q %q %v", x.URL(source), x.Label(source), x.AutoLinkType)
			case *ast.Emphasis:
				extra = fmt.Sprint(x.Level)
			case *ast.List:
				extra = fmt.Sprint(x.IsTight, x.Start)
			}
			d := 0
			for p := n.Parent(); p != nil; p = p.Parent() {
				d++
			}
			fmt.Printf("%*s%s %s\n", d*2, "", n.Kind(), extra)
			return ast.WalkContinue, nil
		})
	}
}
