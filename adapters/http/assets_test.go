package http

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestAssetsServeOnlyTheEmbeddedScripts(t *testing.T) {
	a := fiber.New()
	registerAssets(a)
	res, err := a.Test(httptest.NewRequest("GET", "/assets/webauthn.js", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(string(body), "gatehouseWebAuthn") {
		t.Fatalf("webauthn.js: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/assets/nope.js", "/assets/..%2fsignin.html", "/assets/signin.html", "/assets/%2e%2e%2fpages.go"} {
		res, err := a.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

func TestWithScriptsAllowsOnlyThisOrigin(t *testing.T) {
	got := withScripts(hostedPageCSP)
	want := "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if got != want {
		t.Fatalf("withScripts: %q, want %q", got, want)
	}
}
