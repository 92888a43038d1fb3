package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser the console's tests drive: $ALERTBRIDGE_CHROMIUM
// (scripts/test sets it from scripts/chromium, which installs Debian's
// chromium where it is missing), else chromium on the PATH. With CI=true a
// missing browser fails the test: CI must not pass without having looked.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ALERTBRIDGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium: run scripts/chromium (it installs Debian's chromium) or set ALERTBRIDGE_CHROMIUM")
	}
	t.Skip("no Chromium (scripts/chromium installs it)")
	return ""
}

// browser starts a headless Chromium with a fresh profile, closed with the
// test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI containers the sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; a timeout bounds a hung one.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshotDir is where the browser tests save a screenshot of every
// page: $ALERTBRIDGE_SCREENSHOTS, else test-artifacts/screenshots at the
// repository's root (gitignored; CI keeps it as an artifact).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("ALERTBRIDGE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// page is one tab of a test, with the helpers the console's tests use.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
}

func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// js evaluates an expression in the page.
func js[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to a console path and waits for the page's main heading.
func (p *page) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// submit runs actions that leave the page (a click on a form's button)
// and waits for the next document to be loaded: a marker set on the old
// document is gone from the new one.
func (p *page) submit(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	js[bool](p, `window.__old = true`)
	p.do(actions...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__old !== true && document.readyState === "complete"`))
		cancel()
		if err == nil && loaded {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no new page after submitting (at %s)", p.location())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// text is the visible text of the page.
func (p *page) text() string { return js[string](p, `document.body.innerText`) }

// eventually reloads path until cond holds of the page's text, or fails
// at the deadline.
func (p *page) eventually(what, path string, cond func(text string) bool) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.open(path)
		text := p.text()
		if cond(text) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s; page %s shows:\n%s", what, path, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the whole page as NAME.png.
func (p *page) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.shot, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// fitsWidth reports the page's widest element when the page scrolls
// sideways at the current viewport; "" when it does not.
func (p *page) overflow() string {
	return js[string](p, `(() => {
		const w = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth <= w && document.body.scrollWidth <= w) return "";
		let worst = null, right = w;
		for (const el of document.querySelectorAll("body *")) {
			const r = el.getBoundingClientRect();
			if (r.right > right + 0.5) { right = r.right; worst = el; }
		}
		return "scrollWidth " + document.documentElement.scrollWidth + " > " + w + (worst ? ": " + worst.outerHTML.slice(0, 200) : "");
	})()`)
}

// unlabelled lists the form fields without a label a screen reader would read.
func (p *page) unlabelled() string {
	return js[string](p, `Array.from(document.querySelectorAll("input, select, textarea"))
		.filter(el => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))
		.map(el => el.outerHTML).join("\n")`)
}

func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
