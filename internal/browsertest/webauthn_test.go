package browsertest

import (
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// addAuthenticator gives the tab a virtual platform authenticator that
// keeps discoverable credentials and answers every user-presence test at
// once; verified says whether its user verification succeeds (a
// fingerprint or PIN taken) or not.
func (tb *tab) addAuthenticator(t *testing.T, verified bool) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable the WebAuthn domain: %v", err)
	}
	res, err := chromedp.Call(tb.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol:                    webauthn.AuthenticatorProtocolCtap2,
		Ctap2version:                webauthn.Ctap2versionCtap21,
		Transport:                   webauthn.AuthenticatorTransportInternal,
		HasResidentKey:              true,
		HasUserVerification:         true,
		IsUserVerified:              verified,
		AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// credentials are the credentials the tab's virtual authenticator holds.
func (tb *tab) credentials(t *testing.T, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(tb.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("read the virtual authenticator's credentials: %v", err)
	}
	return res.Credentials
}

// dropUserVerification makes the tab's virtual authenticator answer as
// one that did not verify its user (the UV flag of its signed
// authenticator data unset), as a security key without PIN or biometrics
// does.
func (tb *tab) dropUserVerification(t *testing.T, id webauthn.AuthenticatorID) {
	t.Helper()
	bad := true
	if _, err := chromedp.Call(tb.ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: id, IsBadUV: &bad}); err != nil {
		t.Fatalf("unset the user verification of the virtual authenticator's answers: %v", err)
	}
}
