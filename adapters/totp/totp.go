// Package totp implements appmfa.TOTP with github.com/pquerna/otp: RFC 6238
// codes (HMAC-SHA-1, 6 digits, 30-second steps, the parameters every
// authenticator app understands) and otpauth:// key URIs (the Google
// Authenticator key-URI format).
package totp

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"strings"

	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Generator computes codes and key URIs. It holds nothing and is safe for
// concurrent use.
type Generator struct{}

var _ appmfa.TOTP = Generator{}

// New returns a Generator.
func New() Generator { return Generator{} }

// opts are the code parameters of domain/mfa.
var opts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Code is the RFC 6238 code of secret for step: the RFC 4226 HOTP value of
// the step as the counter.
func (Generator) Code(secret []byte, step int64) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("totp: empty secret")
	}
	if step < 0 {
		return "", errors.New("totp: negative time step")
	}
	return hotp.GenerateCodeCustom(mfa.EncodeSecret(secret), uint64(step), opts)
}

// KeyURI is the otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=... URI
// of secret. Neither issuer nor account may contain a colon (the label's
// separator).
func (Generator) KeyURI(issuer, account string, secret []byte) (string, error) {
	if issuer == "" || account == "" || strings.Contains(issuer, ":") || strings.Contains(account, ":") {
		return "", fmt.Errorf("totp: issuer and account must be non-empty and without colons")
	}
	if len(secret) == 0 {
		return "", errors.New("totp: empty secret")
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      uint(mfa.Period.Seconds()),
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("totp: key URI: %w", err)
	}
	return key.URL(), nil
}

// qrSize is the side of the QR code image, in pixels: large enough for a
// phone's camera at arm's length, small enough for a JSON answer (a few KiB).
const qrSize = 256

// KeyQR is a PNG image of uri's QR code (github.com/boombuler/barcode
// through pquerna/otp's Key.Image), for an authenticator app's camera.
func (Generator) KeyQR(uri string) ([]byte, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil || key.Type() != "totp" {
		return nil, errors.New("totp: not an otpauth://totp/ key URI")
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	return buf.Bytes(), nil
}
