// Package totp implements app.TOTP with github.com/pquerna/otp: RFC 6238
// codes (HMAC-SHA-1, 6 digits, 30-second steps, the parameters every
// authenticator app understands) and otpauth:// key URIs (the Google
// Authenticator key-URI format).
package totp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Generator computes codes and key URIs. It holds nothing and is safe for
// concurrent use.
type Generator struct{}

var _ app.TOTP = Generator{}

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
