package totp_test

import (
	"bytes"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/adapters/totp"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
)

// rfcSecret is the SHA-1 seed of RFC 6238, Appendix B: the ASCII string
// "12345678901234567890".
var rfcSecret = []byte("12345678901234567890")

// rfcVectors are the SHA-1 rows of RFC 6238's test vectors (Appendix B):
// Unix time and the 8-digit TOTP.
var rfcVectors = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

// The library computes RFC 6238's published SHA-1 vectors (8 digits, 30 s,
// T0 = 0), through its own options.
func TestRFC6238Vectors(t *testing.T) {
	b32 := mfa.EncodeSecret(rfcSecret)
	for _, v := range rfcVectors {
		at := time.Unix(v.unix, 0).UTC()
		opts := pqtotp.ValidateOpts{Period: 30, Skew: 0, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1}
		got, err := pqtotp.GenerateCodeCustom(b32, at, opts)
		if err != nil || got != v.code {
			t.Errorf("T=%d: code %q, %v; want %q", v.unix, got, err, v.code)
		}
		ok, err := pqtotp.ValidateCustom(v.code, b32, at, opts)
		if err != nil || !ok {
			t.Errorf("T=%d: the vector does not validate: %v", v.unix, err)
		}
		if ok, _ := pqtotp.ValidateCustom(v.code, b32, at.Add(30*time.Second), opts); ok {
			t.Errorf("T=%d: the vector validates a step later without skew", v.unix)
		}
	}
}

// Gatehouse's 6-digit codes are the same HOTP values truncated to six
// digits (RFC 4226 5.3: value mod 10^6), for the step of each vector.
func TestCodeIsTheSixDigitVector(t *testing.T) {
	g := totp.New()
	for _, v := range rfcVectors {
		got, err := g.Code(rfcSecret, mfa.Step(time.Unix(v.unix, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if want := v.code[2:]; got != want {
			t.Errorf("T=%d: Code = %q, want %q", v.unix, got, want)
		}
	}
	if _, err := g.Code(nil, 1); err == nil {
		t.Error("a code of an empty secret")
	}
	if _, err := g.Code(rfcSecret, -1); err == nil {
		t.Error("a code of a negative step")
	}
}

func TestKeyURI(t *testing.T) {
	g := totp.New()
	raw, err := g.KeyURI("auth.example.com", "ann+1@example.com", rfcSecret)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/auth.example.com:ann+1@example.com" ||
		q.Get("secret") != mfa.EncodeSecret(rfcSecret) || q.Get("issuer") != "auth.example.com" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("KeyURI = %s", raw)
	}
	// The library reads it back as the same key.
	key, err := otp.NewKeyFromURL(raw)
	if err != nil || key.Issuer() != "auth.example.com" || key.AccountName() != "ann+1@example.com" || key.Secret() != mfa.EncodeSecret(rfcSecret) {
		t.Fatalf("NewKeyFromURL = %v, %v", key, err)
	}
	for _, bad := range [][2]string{{"", "a@example.com"}, {"host", ""}, {"host:8080", "a@example.com"}, {"host", "a:b@example.com"}} {
		if _, err := g.KeyURI(bad[0], bad[1], rfcSecret); err == nil || strings.Contains(err.Error(), string(rfcSecret)) {
			t.Errorf("KeyURI(%q, %q) = %v", bad[0], bad[1], err)
		}
	}
}

// A product name with spaces is a valid issuer, in the label and in the
// issuer parameter alike.
func TestKeyURIWithAProductName(t *testing.T) {
	raw, err := totp.New().KeyURI("Acme Cloud", "ann@example.com", rfcSecret)
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.NewKeyFromURL(raw)
	if err != nil || key.Issuer() != "Acme Cloud" || key.AccountName() != "ann@example.com" {
		t.Fatalf("NewKeyFromURL(%s) = %v, %v", raw, key, err)
	}
	if u, _ := url.Parse(raw); u.Path != "/Acme Cloud:ann@example.com" || u.Query().Get("issuer") != "Acme Cloud" {
		t.Fatalf("KeyURI = %s", raw)
	}
}

// KeyQR draws a key URI's QR code as a square PNG; anything but a TOTP
// key URI is refused.
func TestKeyQR(t *testing.T) {
	g := totp.New()
	raw, err := g.KeyURI("auth.example.com", "ann@example.com", rfcSecret)
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.KeyQR(raw)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 256 || r.Dy() != 256 {
		t.Fatalf("QR code %v, want 256×256", r)
	}
	dark, light := 0, 0
	for y := range 256 {
		for x := range 256 {
			if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
				dark++
			} else {
				light++
			}
		}
	}
	if dark < 256*256/5 || light < 256*256/5 {
		t.Fatalf("QR code has %d dark and %d light pixels: not a code", dark, light)
	}
	for _, bad := range []string{"", "https://example.com", "otpauth://hotp/x:y?secret=" + mfa.EncodeSecret(rfcSecret)} {
		if _, err := g.KeyQR(bad); err == nil {
			t.Errorf("KeyQR(%q) accepted", bad)
		}
	}
}
