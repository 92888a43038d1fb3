package pagesec

import "testing"

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/alerts/a-1":          "/alerts/a-1",
		"/?status=OPEN":        "/?status=OPEN",
		"":                     "/",
		"//evil.example/":      "/",
		`/\evil.example`:       "/",
		"https://evil.example": "/",
		"javascript:alert(1)":  "/",
		"/x\r\nSet-Cookie: a":  "/",
	} {
		if got := LocalPath(in); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
	}
}
