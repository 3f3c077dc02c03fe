package admin

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
)

// InviteTTL is how long an invitation's set-password link works
// (GATEHOUSE_INVITE_TOKEN_TTL).
type InviteTTL time.Duration

// UserView is a user as an operator sees it.
type UserView struct {
	User           *user.User
	Locked         bool // password login locked by consecutive failures
	MFAEnabled     bool // a confirmed TOTP factor: login needs a second step
	ActiveSessions int
}

// Users is the operators' account lifecycle.
type Users struct {
	d      UsersDeps
	invite time.Duration
}

// UsersDeps are what Users needs. Users, Sessions and Factors work outside
// any transaction.
type UsersDeps struct {
	Users     app.UserRepository
	Sessions  app.SessionRepository
	Factors   app.MFARepository
	Tx        app.TxManager
	Hasher    app.PasswordHasher
	Hashes    app.ImportedHashChecker
	Policy    user.PasswordPolicy
	Guard     *limits.Guard
	Clock     app.Clock
	IDs       app.IDGenerator
	Random    io.Reader
	Links     app.Links
	InviteTTL InviteTTL
}

// NewUsers builds the use cases.
func NewUsers(d UsersDeps) *Users {
	return &Users{d: d, invite: time.Duration(d.InviteTTL)}
}

// ListInput selects a page of users.
type ListInput struct {
	Email  string // a prefix of the address, normalized as addresses are
	Cursor string // "" for the first page
	Limit  *int   // nil for the default
}

// List returns a page of users, newest first, and the cursor of the next
// page ("" after the last).
func (h *Users) List(ctx context.Context, in ListInput) ([]UserView, string, error) {
	limit, before, err := pageRequest(in.Limit, in.Cursor, parseUserCursor)
	if err != nil {
		return nil, "", err
	}
	prefix := user.NormalizeEmailPrefix(in.Email)
	if len(prefix) > user.MaxEmailBytes {
		return nil, "", domain.InvalidRequest(domain.FieldError{Field: "email", Code: "too_long", Message: "The email prefix is longer than an address can be."})
	}
	// One more than asked tells whether a next page exists.
	found, err := h.d.Users.List(ctx, app.UserQuery{EmailPrefix: prefix, Before: before, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	found, next := pageOf(found, limit, func(last *user.User) string {
		return userCursor(app.UserCursor{CreatedAt: last.CreatedAt(), ID: last.ID()})
	})
	views, err := h.views(ctx, found)
	return views, next, err
}

// Get returns one user, or user.ErrNotFound.
func (h *Users) Get(ctx context.Context, id uuid.UUID) (UserView, error) {
	u, err := h.d.Users.ByID(ctx, id)
	if err != nil {
		return UserView{}, err
	}
	return h.view(ctx, u)
}

// Find returns the user with id or, when ref is not an id, the address
// ref (the command line takes either).
func (h *Users) Find(ctx context.Context, ref string) (UserView, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return h.Get(ctx, id)
	}
	email, err := user.ParseEmail(ref)
	if err != nil {
		return UserView{}, err
	}
	u, err := h.d.Users.ByEmail(ctx, email)
	if err != nil {
		return UserView{}, err
	}
	return h.view(ctx, u)
}

func (h *Users) view(ctx context.Context, u *user.User) (UserView, error) {
	v, err := h.views(ctx, []*user.User{u})
	if err != nil {
		return UserView{}, err
	}
	return v[0], nil
}

// views adds what an operator sees beyond the user row: one session count
// and one MFA lookup for the whole page, and each account's lock.
func (h *Users) views(ctx context.Context, us []*user.User) ([]UserView, error) {
	out := make([]UserView, 0, len(us))
	if len(us) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(us))
	for i, u := range us {
		ids[i] = u.ID()
	}
	counts, err := h.d.Sessions.CountActive(ctx, ids, h.d.Clock.Now())
	if err != nil {
		return nil, err
	}
	mfaOn, err := h.d.Factors.EnabledAmong(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		locked, err := h.d.Guard.Locked(ctx, u.Email())
		if err != nil {
			return nil, err
		}
		out = append(out, UserView{User: u, Locked: locked, MFAEnabled: mfaOn[u.ID()], ActiveSessions: counts[u.ID()]})
	}
	return out, nil
}

// CreateInput is a new account made by an operator.
type CreateInput struct {
	Email string
	// Password, when empty and PasswordHash is too, makes an invitation:
	// the account gets a random password nobody knows and a set-password
	// link is mailed.
	Password string
	// PasswordHash, instead of Password, is the user's hash from another
	// system (see app.ImportedHashChecker), stored as it is until the
	// first login rehashes it.
	PasswordHash  string
	EmailVerified bool
}

var errPasswordAndHash = domain.Validation(domain.FieldError{Field: "password_hash", Code: "password_and_hash", Message: "Give either a password or a password hash, not both."})

// Create makes an account. A taken address is user.ErrEmailTaken.
func (h *Users) Create(ctx context.Context, a Actor, in CreateInput) (UserView, error) {
	email, err := user.ParseEmail(in.Email)
	if err != nil {
		return UserView{}, err
	}
	imported := in.PasswordHash != ""
	invite := in.Password == "" && !imported
	var encoded string
	switch {
	case imported && in.Password != "":
		return UserView{}, errPasswordAndHash
	case imported:
		if err := h.d.Hashes.CheckImported(in.PasswordHash); err != nil {
			return UserView{}, err
		}
		encoded = in.PasswordHash
	default:
		if encoded, err = h.hashFor(ctx, invite, in.Password, email); err != nil {
			return UserView{}, err
		}
	}
	var u *user.User
	err = h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		if u, err = user.New(h.d.IDs.NewID(), email, encoded, now); err != nil {
			return err
		}
		if in.EmailVerified {
			u.VerifyEmail(now)
		}
		if err := r.Users.Create(ctx, u); err != nil {
			return err
		}
		// Created verified or not, as user.created shows: no
		// user.verified besides.
		if err := app.PublishCreated(ctx, r, h.d.IDs, now, u); err != nil {
			return err
		}
		if invite {
			secret, err := app.IssuePasswordLink(ctx, r, h.d.Random, u.ID(), token.PurposeInvite, now, h.invite)
			if err != nil {
				return err
			}
			err = r.Outbox.Enqueue(ctx, app.OutboundMail{
				ID: h.d.IDs.NewID(), Kind: app.MailInvite, To: u.Email().String(), UserID: u.ID(),
				Data: app.LinkMailData(h.d.Links.AcceptInvite(secret), h.invite),
			}, now)
			if err != nil {
				return err
			}
		}
		return r.Audit.Append(ctx, a.event(audit.AdminUserCreated, u.ID(), now, map[string]string{
			"email": u.Email().String(), "invited": strconv.FormatBool(invite), "email_verified": strconv.FormatBool(in.EmailVerified),
			"password_hash_imported": strconv.FormatBool(imported),
		}))
	})
	if err != nil {
		return UserView{}, err
	}
	if u.Verified() {
		// Failures counted under the address before it had an owner are
		// not the owner's; failing to clear them is not the operator's
		// to see.
		_ = h.d.Guard.AddressVerified(ctx, u.Email())
	}
	return UserView{User: u}, nil
}

// hashFor hashes the password of a new account: password, checked by the
// policy, or for an invitation a random one nobody knows.
func (h *Users) hashFor(ctx context.Context, invite bool, password string, email user.Email) (string, error) {
	var pw user.Password
	if invite {
		secret, _, err := token.NewSecret(h.d.Random)
		if err != nil {
			return "", err
		}
		pw = user.NormalizePassword(secret.Reveal())
	} else {
		var err error
		if pw, err = h.d.Policy.Check("password", password, email); err != nil {
			return "", err
		}
	}
	return h.d.Hasher.Hash(ctx, pw)
}

// Patch is an operator's change to an account; nil fields stay as they are.
type Patch struct {
	Disabled      *bool
	EmailVerified *bool
	// MFAEnabled may only be set to false (turning a second factor off).
	MFAEnabled *bool
}

var errMFAOnlyOff = domain.Validation(domain.FieldError{Field: "mfa_enabled", Code: "only_false", Message: "A second factor can only be turned off here; its owner turns it on."})

// Update applies p. Disabling revokes every session of the account in the
// same transaction, so its access tokens fail on the next request. Turning
// MFA off deletes the factor and the recovery codes (audited as
// mfa_disabled with the actor) and sends the owner a notice.
func (h *Users) Update(ctx context.Context, a Actor, id uuid.UUID, p Patch) (UserView, error) {
	if p.MFAEnabled != nil && *p.MFAEnabled {
		return UserView{}, errMFAOnlyOff
	}
	var u *user.User
	verified := false // the address became verified
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		var err error
		if u, err = r.Users.ByIDForChange(ctx, id); err != nil {
			return err
		}
		detail := map[string]string{}
		// The events of what changed: a field set to what it was already
		// publishes nothing.
		var events []webhook.Type
		if p.Disabled != nil {
			detail["disabled"] = strconv.FormatBool(*p.Disabled)
			if *p.Disabled {
				if u.Active() {
					events = append(events, webhook.UserDisabled)
				}
				u.Deactivate(now)
			} else {
				if !u.Active() {
					events = append(events, webhook.UserEnabled)
				}
				u.Activate(now)
			}
		}
		if p.EmailVerified != nil {
			detail["email_verified"] = strconv.FormatBool(*p.EmailVerified)
			if *p.EmailVerified {
				if verified = !u.Verified(); verified {
					events = append(events, webhook.UserVerified)
				}
				u.VerifyEmail(now)
			} else {
				u.UnverifyEmail(now)
			}
		}
		if p.MFAEnabled != nil {
			// Recorded even when MFA was off already.
			detail["mfa_enabled"] = "false"
			on, err := r.MFA.DeleteTOTP(ctx, u.ID())
			if err != nil {
				return err
			}
			if on {
				events = append(events, webhook.UserMFADisabled)
				detail["mfa_disabled"] = "true"
				err := r.Outbox.Enqueue(ctx, app.OutboundMail{ID: h.d.IDs.NewID(), Kind: app.MailMFADisabled, To: u.Email().String(), UserID: u.ID(), Data: map[string]string{"by": "operator"}}, now)
				if err != nil {
					return err
				}
				if err := r.Audit.Append(ctx, a.event(audit.MFADisabled, u.ID(), now, map[string]string{"by": "operator"})); err != nil {
					return err
				}
			}
		}
		if len(detail) == 0 {
			return nil
		}
		if err := r.Users.Update(ctx, u); err != nil {
			return err
		}
		if err := app.Publish(ctx, r, h.d.IDs, now, u, events...); err != nil {
			return err
		}
		if p.Disabled != nil && *p.Disabled {
			n, err := app.RevokeSessions(ctx, r, h.d.IDs, u, uuid.Nil, now)
			if err != nil {
				return err
			}
			detail["sessions_revoked"] = strconv.Itoa(n)
		}
		return r.Audit.Append(ctx, a.event(audit.AdminUserUpdated, u.ID(), now, detail))
	})
	if err != nil {
		return UserView{}, err
	}
	if verified {
		_ = h.d.Guard.AddressVerified(ctx, u.Email())
	}
	if p.MFAEnabled != nil {
		// Off now: the owner can enroll again, unrefused by a lock the
		// old factor earned (an attacker's wrong codes, say).
		if err := h.d.Guard.FactorRemoved(ctx, u.ID()); err != nil {
			return UserView{}, err
		}
	}
	return h.view(ctx, u)
}

// Delete removes an account and everything stored for it but its audit
// trail (see app.UserRepository.Delete).
func (h *Users) Delete(ctx context.Context, a Actor, id uuid.UUID) error {
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		u, err := r.Users.ByIDForChange(ctx, id)
		if err != nil {
			return err
		}
		if err := app.DeleteUser(ctx, r, h.d.IDs, u, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, a.event(audit.AdminUserDeleted, u.ID(), now, map[string]string{"email": u.Email().String()}))
	})
}

// RevokeSessions ends every session of the account.
func (h *Users) RevokeSessions(ctx context.Context, a Actor, id uuid.UUID) (int, error) {
	var n int
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		now := h.d.Clock.Now()
		u, err := r.Users.ByIDForChange(ctx, id)
		if err != nil {
			return err
		}
		if n, err = app.RevokeSessions(ctx, r, h.d.IDs, u, uuid.Nil, now); err != nil {
			return err
		}
		return r.Audit.Append(ctx, a.event(audit.AdminSessionsRevoked, u.ID(), now, map[string]string{"sessions_revoked": strconv.Itoa(n)}))
	})
	return n, err
}

// Unlock lifts the account's lockout and clears its failed-login counts
// and its second-factor counters.
func (h *Users) Unlock(ctx context.Context, a Actor, id uuid.UUID) error {
	u, err := h.d.Users.ByID(ctx, id)
	if err != nil {
		return err
	}
	if err := h.d.Guard.Unlock(ctx, u.Email(), u.ID()); err != nil {
		return err
	}
	return h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		return r.Audit.Append(ctx, a.event(audit.AdminUserUnlocked, u.ID(), h.d.Clock.Now(), nil))
	})
}
