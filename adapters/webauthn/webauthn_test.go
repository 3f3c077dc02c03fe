package webauthn_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/webauthn"
	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/google/uuid"
)

func TestRelyingPartyID(t *testing.T) {
	for _, tc := range []struct{ url, override, want string }{
		{"https://auth.example.com", "", "auth.example.com"},
		{"https://auth.example.com:8443/base", "", "auth.example.com"},
		{"https://auth.example.com", "example.com", "example.com"},
		{"http://localhost:8080", "", "localhost"},
	} {
		rp, err := webauthn.New(webauthn.Config{PublicURL: tc.url, RPID: tc.override, Name: "Gatehouse"})
		if err != nil || rp.RPID() != tc.want {
			t.Errorf("%s (%q): %v, %v; want %s", tc.url, tc.override, rp, err, tc.want)
		}
	}
	for _, bad := range []webauthn.Config{{PublicURL: "auth.example.com"}, {PublicURL: "ftp://auth.example.com"}} {
		if _, err := webauthn.New(bad); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
}

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		Timeout                int `json:"timeout"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		UserVerification   string `json:"userVerification"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

func TestOptions(t *testing.T) {
	rp, err := webauthn.New(webauthn.Config{PublicURL: "https://auth.example.com", Name: "Example"})
	if err != nil {
		t.Fatal(err)
	}
	user := uuid.New()
	existing, err := passkey.New(uuid.New(), user, "Laptop", passkey.Registration{CredentialID: []byte("cred-1"), PublicKey: []byte("pk")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, state, err := rp.BeginRegistration(apppasskey.Account{ID: user, Name: "ada@example.com"}, []*passkey.Credential{existing})
	if err != nil || len(state) == 0 {
		t.Fatalf("BeginRegistration: %v", err)
	}
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	p := o.PublicKey
	id, _ := base64.RawURLEncoding.DecodeString(p.User.ID)
	if p.RP.ID != "auth.example.com" || p.RP.Name != "Example" || string(id) != string(user[:]) || p.User.Name != "ada@example.com" ||
		p.AuthenticatorSelection.ResidentKey != "required" || p.AuthenticatorSelection.UserVerification != "preferred" ||
		len(p.ExcludeCredentials) != 1 || p.ExcludeCredentials[0].ID != base64.RawURLEncoding.EncodeToString([]byte("cred-1")) ||
		p.Timeout != int(passkey.ChallengeTTL/time.Millisecond) || p.Challenge == "" {
		t.Errorf("creation options %s", raw)
	}

	raw, state, err = rp.BeginLogin()
	if err != nil || len(state) == 0 {
		t.Fatalf("BeginLogin: %v", err)
	}
	o = options{}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	if o.PublicKey.RPID != "auth.example.com" || o.PublicKey.UserVerification != "preferred" || o.PublicKey.Challenge == "" {
		t.Errorf("request options %s", raw)
	}
}

// Answers that are not WebAuthn at all are passkey.ErrInvalidCredential,
// and the finder is never asked.
func TestGarbageAnswers(t *testing.T) {
	rp, err := webauthn.New(webauthn.Config{PublicURL: "https://auth.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, state, err := rp.BeginLogin()
	if err != nil {
		t.Fatal(err)
	}
	find := func([]byte, []byte) (*passkey.Credential, error) {
		t.Error("finder asked")
		return nil, passkey.ErrNotFound
	}
	for _, answer := range []string{``, `{}`, `[]`, `{"id":"x","rawId":"x","type":"public-key","response":{}}`, `"AAAA"`} {
		if _, _, err := rp.FinishLogin(state, []byte(answer), find); !errors.Is(err, passkey.ErrInvalidCredential) {
			t.Errorf("sign-in answer %q: %v", answer, err)
		}
		if _, err := rp.FinishRegistration(apppasskey.Account{ID: uuid.New()}, state, []byte(answer)); !errors.Is(err, passkey.ErrInvalidCredential) {
			t.Errorf("registration answer %q: %v", answer, err)
		}
	}
}

func TestAvailableWithADomainName(t *testing.T) {
	rp, err := webauthn.New(webauthn.Config{PublicURL: "https://auth.example.com"})
	if err != nil || !rp.Available() {
		t.Fatalf("%v, available %v", err, rp.Available())
	}
}

// A public URL with an IP address has no relying party: WebAuthn binds
// credentials to a domain. Every ceremony says passkeys are unavailable.
func TestNoRelyingPartyOnAnIPAddress(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "https://[::1]:8443"} {
		rp, err := webauthn.New(webauthn.Config{PublicURL: u})
		if err != nil || rp.RPID() != "" || rp.Available() {
			t.Fatalf("%s: %v, %q, available %v", u, err, rp.RPID(), rp.Available())
		}
		if _, _, err := rp.BeginLogin(); !errors.Is(err, passkey.ErrUnavailable) {
			t.Errorf("%s: BeginLogin: %v", u, err)
		}
		if _, _, err := rp.BeginRegistration(apppasskey.Account{ID: uuid.New()}, nil); !errors.Is(err, passkey.ErrUnavailable) {
			t.Errorf("%s: BeginRegistration: %v", u, err)
		}
		if _, err := rp.FinishRegistration(apppasskey.Account{ID: uuid.New()}, []byte(`{}`), []byte(`{}`)); !errors.Is(err, passkey.ErrUnavailable) {
			t.Errorf("%s: FinishRegistration: %v", u, err)
		}
		if _, _, err := rp.FinishLogin([]byte(`{}`), []byte(`{}`), nil); !errors.Is(err, passkey.ErrUnavailable) {
			t.Errorf("%s: FinishLogin: %v", u, err)
		}
	}
}
