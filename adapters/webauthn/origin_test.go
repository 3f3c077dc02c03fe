package webauthn

import (
	"net/url"
	"testing"
)

// A browser sends the origin without the scheme's default port: a public
// URL that writes the port must still match it.
func TestOriginAsBrowsersSendIt(t *testing.T) {
	for in, want := range map[string]string{
		"https://auth.example.com":          "https://auth.example.com",
		"https://auth.example.com:443/base": "https://auth.example.com",
		"http://localhost:80":               "http://localhost",
		"https://auth.example.com:8443":     "https://auth.example.com:8443",
		"http://localhost:8080/":            "http://localhost:8080",
		"http://auth.example.com:443":       "http://auth.example.com:443",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := origin(u); got != want {
			t.Errorf("origin(%s) = %s, want %s", in, got, want)
		}
	}
}
