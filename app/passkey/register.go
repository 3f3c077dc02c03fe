package passkey

import (
	"context"
	"encoding/json"

	"github.com/gatehouse-auth/gatehouse/app"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/passkey"
	"github.com/google/uuid"
)

// Register adds a passkey to the signed-in user's account: Begin answers
// the creation options (the user's passkeys excluded, so that an
// authenticator holding one of them declines), Finish verifies the
// authenticator's answer and stores the passkey. A passkey that verifies
// its user satisfies MFA and outlives a password change or reset, so on
// an account with MFA on the begin needs the step-up of mfa.StepUp, as a
// password change does; the finish takes only a challenge that such a
// begin made for the same user.
type Register struct {
	d Deps
}

// Deps are what the passkey use cases need. Users and Passkeys work
// outside any transaction.
type Deps struct {
	Users      app.UserRepository
	Passkeys   app.PasskeyRepository
	Tx         app.TxManager
	Ceremonies Ceremonies
	Clock      app.Clock
	IDs        app.IDGenerator
	// StepUp guards adding and deleting a passkey.
	StepUp *appmfa.StepUp
}

// NewRegister builds the use case.
func NewRegister(d Deps) *Register { return &Register{d: d} }

// Begin starts a registration for the signed-in user userID, who brings
// the proof p of the step-up (mfa.ErrStepUpRequired without one on an
// account with MFA on).
func (h *Register) Begin(ctx context.Context, userID uuid.UUID, p appmfa.Proof, meta app.RequestMeta) (Begun, error) {
	u, err := app.SignedIn(ctx, h.d.Users, userID)
	if err != nil {
		return Begun{}, err
	}
	if _, err := h.d.StepUp.Require(ctx, u, p, true, "passkey_add", meta); err != nil {
		return Begun{}, err
	}
	existing, err := h.d.Passkeys.List(ctx, u.ID())
	if err != nil {
		return Begun{}, err
	}
	options, state, err := h.d.Ceremonies.BeginRegistration(account(u), existing)
	if err != nil {
		return Begun{}, err
	}
	return begin(ctx, h.d.Passkeys, h.d.IDs, h.d.Clock, u.ID(), passkey.PurposeRegister, options, state)
}

// FinishInput is the end of a registration.
type FinishInput struct {
	UserID      uuid.UUID
	ChallengeID string
	// Name is the passkey's name; nil gives passkey.DefaultName.
	Name *string
	// Credential is the authenticator's answer (PublicKeyCredential JSON).
	Credential json.RawMessage
	Meta       app.RequestMeta
}

// Finish verifies the answer to the challenge of a registration begun by
// the same user and stores the passkey, audited as passkey_added. A name
// that breaks the rules is refused before the challenge is used; an
// answer that does not verify uses it up.
func (h *Register) Finish(ctx context.Context, in FinishInput) (*passkey.Credential, error) {
	name := passkey.DefaultName(h.d.Clock.Now())
	if in.Name != nil {
		var err error
		if name, err = passkey.ParseName(*in.Name); err != nil {
			return nil, err
		}
	}
	ch, err := take(ctx, h.d.Passkeys, h.d.Clock, in.ChallengeID, passkey.PurposeRegister, in.UserID)
	if err != nil {
		return nil, err
	}
	u, err := app.SignedIn(ctx, h.d.Users, in.UserID)
	if err != nil {
		return nil, err
	}
	reg, err := h.d.Ceremonies.FinishRegistration(account(u), ch.State(), in.Credential)
	if err != nil {
		return nil, err
	}
	var c *passkey.Credential
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		if _, err := lockUser(ctx, r, u.ID()); err != nil {
			return err
		}
		if c, err = passkey.New(h.d.IDs.NewID(), u.ID(), name, reg, now); err != nil {
			return err
		}
		if err := r.Passkeys.Add(ctx, c); err != nil {
			return err
		}
		return r.Audit.Append(ctx, in.Meta.Event(audit.PasskeyAdded, u.ID(), now, map[string]string{"passkey_id": c.ID().String()}))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
