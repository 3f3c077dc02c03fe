// Package webauthn speaks WebAuthn for the passkey use cases
// (app/passkey.Ceremonies) through github.com/go-webauthn/webauthn: it
// makes the creation and request options, keeps the state between a
// ceremony's begin and finish as the library's SessionData JSON, and
// verifies the authenticators' answers. Passkeys are discoverable
// credentials (resident key required) with user verification preferred;
// the attestation is not asked for. What the answers mean for the product
// (counters, challenges, sessions) is the use cases'.
package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apppasskey "github.com/gatehouse-auth/gatehouse/app/passkey"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/go-webauthn/webauthn/protocol"
	lib "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

var _ apppasskey.Ceremonies = (*RelyingParty)(nil)

// timeout is what the options ask the browser to wait for the user: the
// life of a challenge.
const timeout = passkey.ChallengeTTL

// RelyingParty is Gatehouse as a WebAuthn relying party. Without a
// domain name (a public URL whose host is an IP address, which WebAuthn
// cannot bind credentials to) it has none: every ceremony is
// passkey.ErrUnavailable.
type RelyingParty struct {
	w *lib.WebAuthn // nil: no relying party
}

// Config names the relying party.
type Config struct {
	// PublicURL is GATEHOUSE_PUBLIC_URL: its origin is the only origin
	// answers may come from.
	PublicURL string
	// RPID is the relying party id; "" takes the host of PublicURL.
	RPID string
	// Name is shown by authenticators beside the account.
	Name string
}

// New builds the relying party of c.
func New(c Config) (*RelyingParty, error) {
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webauthn: public URL %q is not an absolute http(s) URL", c.PublicURL)
	}
	rpID := c.RPID
	if rpID == "" {
		rpID = u.Hostname()
	}
	if net.ParseIP(rpID) != nil {
		return &RelyingParty{}, nil
	}
	name := c.Name
	if name == "" {
		name = rpID
	}
	uv := protocol.VerificationPreferred
	required := true
	w, err := lib.New(&lib.Config{
		RPID:          rpID,
		RPDisplayName: name,
		RPOrigins:     []string{origin(u)},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: &required,
			UserVerification:   uv,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: lib.TimeoutsConfig{
			Login:        lib.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout},
			Registration: lib.TimeoutConfig{Timeout: timeout, TimeoutUVD: timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: relying party id %q for %s: %w", rpID, c.PublicURL, err)
	}
	return &RelyingParty{w: w}, nil
}

// RPID is the relying party id in use, "" when there is none.
func (rp *RelyingParty) RPID() string {
	if rp.w == nil {
		return ""
	}
	return rp.w.Config.RPID
}

// Available reports whether there is a relying party (a domain name).
func (rp *RelyingParty) Available() bool { return rp.w != nil }

// BeginRegistration makes the creation options for a.
func (rp *RelyingParty) BeginRegistration(a apppasskey.Account, existing []*passkey.Credential) (json.RawMessage, []byte, error) {
	if rp.w == nil {
		return nil, nil, passkey.ErrUnavailable
	}
	u := account{id: a.ID, name: a.Name}
	exclude := make([]protocol.CredentialDescriptor, 0, len(existing))
	for _, c := range existing {
		lc := credential(c)
		exclude = append(exclude, lc.Descriptor())
	}
	creation, session, err := rp.w.BeginRegistration(u, lib.WithExclusions(exclude))
	if err != nil {
		return nil, nil, err
	}
	return marshal(creation, session)
}

// FinishRegistration verifies a registration's answer.
func (rp *RelyingParty) FinishRegistration(a apppasskey.Account, state, answer []byte) (passkey.Registration, error) {
	if rp.w == nil {
		return passkey.Registration{}, passkey.ErrUnavailable
	}
	session, err := unmarshalState(state)
	if err != nil {
		return passkey.Registration{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return passkey.Registration{}, invalid(err)
	}
	c, err := rp.w.CreateCredential(account{id: a.ID, name: a.Name}, session, parsed)
	if err != nil {
		return passkey.Registration{}, invalid(err)
	}
	transports := make([]string, 0, len(c.Transport))
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	return passkey.Registration{
		CredentialID: c.ID, PublicKey: c.PublicKey, SignCount: c.Authenticator.SignCount, AAGUID: c.Authenticator.AAGUID,
		Transports: transports,
		Flags:      passkey.Flags{UserVerified: c.Flags.UserVerified, BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState},
	}, nil
}

// BeginLogin makes the request options of a discoverable sign-in.
func (rp *RelyingParty) BeginLogin() (json.RawMessage, []byte, error) {
	if rp.w == nil {
		return nil, nil, passkey.ErrUnavailable
	}
	assertion, session, err := rp.w.BeginDiscoverableLogin()
	if err != nil {
		return nil, nil, err
	}
	return marshal(assertion, session)
}

// FinishLogin verifies a sign-in's answer. The counter and flags come
// from the answer's authenticator data as sent: the counter rule is the
// use case's.
func (rp *RelyingParty) FinishLogin(state, answer []byte, find func(credentialID, userHandle []byte) (*passkey.Credential, error)) (*passkey.Credential, passkey.Assertion, error) {
	if rp.w == nil {
		return nil, passkey.Assertion{}, passkey.ErrUnavailable
	}
	session, err := unmarshalState(state)
	if err != nil {
		return nil, passkey.Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return nil, passkey.Assertion{}, invalid(err)
	}
	var (
		found    *passkey.Credential
		storeErr error
	)
	_, _, err = rp.w.ValidatePasskeyLogin(func(rawID, userHandle []byte) (lib.User, error) {
		c, err := find(rawID, userHandle)
		if err != nil {
			if !errors.Is(err, passkey.ErrNotFound) {
				storeErr = err
			}
			return nil, err
		}
		found = c
		return account{id: c.UserID(), credentials: []lib.Credential{credential(c)}}, nil
	}, session, parsed)
	if storeErr != nil {
		return nil, passkey.Assertion{}, storeErr
	}
	if err != nil {
		return nil, passkey.Assertion{}, invalid(err)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	return found, passkey.Assertion{
		SignCount:    parsed.Response.AuthenticatorData.Counter,
		UserVerified: flags.HasUserVerified(),
		BackupState:  flags.HasBackupState(),
	}, nil
}

// invalid is passkey.ErrInvalidCredential for what the library refused,
// keeping its reason for the log.
func invalid(cause error) error { return fmt.Errorf("%w (%w)", passkey.ErrInvalidCredential, cause) }

// marshal is the options as the library renders them ({"publicKey":
// {...}}) and the ceremony's state as its SessionData JSON.
func marshal(options any, session *lib.SessionData) (json.RawMessage, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, err
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, err
	}
	return o, s, nil
}

// unmarshalState reads a ceremony's state: written by marshal and kept
// server-side, so a state that does not read is a bug, not bad input.
func unmarshalState(state []byte) (lib.SessionData, error) {
	var s lib.SessionData
	d := json.NewDecoder(bytes.NewReader(state))
	if err := d.Decode(&s); err != nil {
		return lib.SessionData{}, fmt.Errorf("webauthn: stored ceremony state: %w", err)
	}
	return s, nil
}

// credential is c as the library verifies against it.
func credential(c *passkey.Credential) lib.Credential {
	f := c.Flags()
	transports := make([]protocol.AuthenticatorTransport, 0, len(c.Transports()))
	for _, t := range c.Transports() {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return lib.Credential{
		ID: c.CredentialID(), PublicKey: c.PublicKey(), Transport: transports,
		Flags:         lib.CredentialFlags{UserPresent: true, UserVerified: f.UserVerified, BackupEligible: f.BackupEligible, BackupState: f.BackupState},
		Authenticator: lib.Authenticator{AAGUID: c.AAGUID(), SignCount: c.SignCount()},
	}
}

// account is a user as the library takes it. The user handle is the
// user's id (16 bytes): opaque, stable, and no personal data.
type account struct {
	id          uuid.UUID
	name        string
	credentials []lib.Credential
}

func (a account) WebAuthnID() []byte                    { return a.id[:] }
func (a account) WebAuthnName() string                  { return a.name }
func (a account) WebAuthnDisplayName() string           { return a.name }
func (a account) WebAuthnCredentials() []lib.Credential { return a.credentials }

// origin is the web origin of u as a browser serializes it: scheme and
// host, with the port only when it is not the scheme's default (a public
// URL written https://auth.example.com:443 has the origin
// https://auth.example.com).
func origin(u *url.URL) string {
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		host += ":" + p
	}
	return u.Scheme + "://" + host
}
