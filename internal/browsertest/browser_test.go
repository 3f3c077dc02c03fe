package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// tabTimeout bounds everything one test does in its tab.
const tabTimeout = 30 * time.Second

// submitTimeout bounds the wait for the page a form post loads.
const submitTimeout = 10 * time.Second

// startBrowser starts one headless Chromium for the test and its subtests
// and closes it when the test ends. It returns the browser's context; each
// subtest opens its own tab in it with newTab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	var out lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // we run as root in CI
		chromedp.WindowSize(800, 600),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(&out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process and its profile dir
	})
	// The first Do starts the browser; its context must outlive this call.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromiumPath, err, out.String())
	}
	return browserCtx
}

// tab is one browser tab of a test, with the document requests it made.
type tab struct {
	ctx context.Context

	mu   sync.Mutex
	docs []*network.Request // top-level document requests, in order
}

// newTab opens a tab in the browser. With js false, script execution is
// off in it for all its navigations, as in a browser with JavaScript
// disabled: every form post is then a plain HTML form submission.
func newTab(t *testing.T, browserCtx context.Context, js bool) *tab {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(browserCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, tabTimeout)
	t.Cleanup(cancel)
	tb := &tab{ctx: ctx}
	if err := chromedp.Listen(tabCtx, func(ev any) {
		// Runs in the tab's event loop: record and return.
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && ev.Type == network.ResourceTypeDocument {
			tb.mu.Lock()
			tb.docs = append(tb.docs, ev.Request)
			tb.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable JavaScript: %v", err)
		}
		tb.requireScripts(t, false)
	}
	return tb
}

// requireScripts checks whether the page's own scripts run in the tab by
// loading a page (no CSP) whose inline script changes the title.
func (tb *tab) requireScripts(t *testing.T, want bool) {
	t.Helper()
	const probe = `data:text/html,<title>off</title><script>document.title='on'</script>`
	tb.do(t, chromedp.Navigate(probe))
	title := run(t, tb, chromedp.Title())
	if got := title == "on"; got != want {
		t.Fatalf("page scripts run = %v in this tab, want %v", got, want)
	}
}

// do runs steps in the tab, failing the test on an error.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// run runs one action that returns a value in the tab.
func run[T any](t *testing.T, tb *tab, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// open navigates to url and returns the response of the document.
func (tb *tab) open(t *testing.T, url string) *network.Response {
	t.Helper()
	res := run(t, tb, chromedp.NavigateResponse(url))
	if res == nil {
		t.Fatalf("navigate to %s: no response", strings.SplitN(url, "?", 2)[0])
	}
	return res
}

// submit clicks the form's submit button like a user and returns the
// response of the document it loads, after checking that the browser sent
// a plain form POST (no script, no fetch) to wantPath.
func (tb *tab) submit(t *testing.T, wantPath string) *network.Response {
	t.Helper()
	res, req := tb.click(t, `form button[type=submit]`)
	if req.Method != "POST" {
		t.Errorf("the submit is a %s, want a form POST", req.Method)
	}
	if path := pathOf(req.URL); path != wantPath {
		t.Errorf("the form posts to %s, want %s", path, wantPath)
	}
	if ct := header(req.Headers, "Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("the form POST has Content-Type %q, want application/x-www-form-urlencoded", ct)
	}
	if !req.HasPostData {
		t.Error("the form POST has no body")
	}
	return res
}

// fill types value into the form's field with the id field and submits
// the form (submit) to wantPath.
func (tb *tab) fill(t *testing.T, field, value, wantPath string) *network.Response {
	t.Helper()
	tb.do(t, chromedp.SendKeys(chromedp.CSS("#"+field), value))
	return tb.submit(t, wantPath)
}

// checkPasswordCleared fails unless a refused password is gone from the
// form that comes back: it is never rendered back into the field.
func checkPasswordCleared(t *testing.T, tb *tab) {
	t.Helper()
	if v := run(t, tb, chromedp.Value(chromedp.CSS(`#password`))); v != "" {
		t.Error("the refused password is rendered back into the field")
	}
}

// follow clicks the link css selects like a user and returns the response
// of the document it loads, after checking that the browser sent one GET
// of wantURL (a path on the tab's server, or an absolute URL elsewhere).
func (tb *tab) follow(t *testing.T, css, wantURL string) *network.Response {
	t.Helper()
	res, req := tb.click(t, css)
	if req.Method != "GET" {
		t.Errorf("the link made a %s, want a GET", req.Method)
	}
	got := pathOf(req.URL)
	if strings.Contains(wantURL, "://") {
		got = req.URL + req.URLFragment
	}
	if got != wantURL {
		t.Errorf("the link leads to %s, want %s", got, wantURL)
	}
	return res
}

// click clicks the element css selects and returns the response and the
// request of the one document that loads.
func (tb *tab) click(t *testing.T, css string) (*network.Response, *network.Request) {
	t.Helper()
	res, docs := tb.clickThrough(t, css)
	if len(docs) != 1 {
		t.Fatalf("the click on %s made %d document requests, want 1", css, len(docs))
	}
	return res, docs[0]
}

// clickThrough clicks the element css selects and returns the response of
// the document that loads in the end and the document requests on the way
// there (a form POST answered 303, then the GET it leads to).
func (tb *tab) clickThrough(t *testing.T, css string) (*network.Response, []*network.Request) {
	t.Helper()
	tb.mu.Lock()
	before := len(tb.docs)
	tb.mu.Unlock()
	// A post the browser refuses to send (a CSP form-action, a constraint
	// of a field) loads nothing: give up well before the tab's deadline.
	ctx, cancel := context.WithTimeout(tb.ctx, submitTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("click %s: no page loaded within %v: %v", css, submitTimeout, err)
	}
	if res == nil {
		t.Fatalf("click %s: no document loaded", css)
	}
	tb.mu.Lock()
	docs := append([]*network.Request(nil), tb.docs[before:]...)
	tb.mu.Unlock()
	return res, docs
}

// attr is the value of attribute name of the first element css selects
// ("" when it has none).
func (tb *tab) attr(t *testing.T, css, name string) string {
	t.Helper()
	v := run(t, tb, chromedp.AttributeValue(chromedp.CSS(css), name, chromedp.NodeReady))
	return v.Value
}

// pathOf is the path of a URL, without the query that holds the token.
func pathOf(u string) string {
	u, _, _ = strings.Cut(u, "?")
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.Index(u[i+3:], "/"); j >= 0 {
			return u[i+3+j:]
		}
		return "/"
	}
	return u
}

// header is a header of a protocol request or response, by name in any
// case; several values of one header come joined by newlines.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// screenshot writes a full-page PNG of the tab to name.png in the test's
// artifact directory, checks that it is a PNG with pixels, and logs its path.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	buf := run(t, tb, chromedp.FullScreenshot(100))
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s: not a PNG: %v", name, err)
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		t.Fatalf("screenshot %s: empty image %dx%d", name, cfg.Width, cfg.Height)
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%dx%d, %d bytes)", path, cfg.Width, cfg.Height, len(buf))
}

// text is the trimmed text of the first element matching css.
func (tb *tab) text(t *testing.T, css string) string {
	t.Helper()
	return strings.TrimSpace(run(t, tb, chromedp.Text(chromedp.CSS(css), chromedp.NodeReady)))
}

// count is how many elements match css now (no waiting).
func (tb *tab) count(t *testing.T, css string) int {
	t.Helper()
	return run(t, tb, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, css)))
}
