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
