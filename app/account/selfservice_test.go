package account_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	appmfa "github.com/gatehouse-auth/gatehouse/app/mfa"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// selfFixture is what the signed-in user's own account changes need.
type selfFixture struct {
	*apptest.Ports
	check  *limits.PasswordCheck
	guard  *limits.Guard
	stepUp *appmfa.StepUp
}

func newSelf(t *testing.T) *selfFixture {
	ctrl := gomock.NewController(t)
	f := &selfFixture{
		Ports: apptest.NewPorts(ctrl),
	}
	f.guard = limits.NewGuard(f.RL, limits.DefaultPolicy())
	f.check = limits.NewPasswordCheck(f.guard, f.Hasher, f.Audit, apptest.NewClock(apptest.T0))
	f.stepUp = appmfa.NewStepUp(f.Factors, f.Tx, appmfa.NewVerifier(mock.NewMockTOTP(ctrl), mock.NewMockSealer(ctrl)),
		appmfa.NewAttempts(f.guard, f.Audit, apptest.NewClock(apptest.T0)), apptest.NewClock(apptest.T0), appmfa.StepUpMaxAge(15*time.Minute))
	return f
}

// signedIn seeds the signed-in user u and, when mfaOn, a confirmed
// second factor of theirs (the step-up looks at it).
func (f *selfFixture) signedIn(u *user.User, mfaOn bool) {
	f.Seed(u)
	if mfaOn {
		at, step := apptest.T0.Add(-time.Hour), int64(1)
		f.SeedTOTP(mfa.RehydrateTOTP(u.ID(), []byte("sealed secret, 21+ bytes"), at, &at, &step))
	}
}

func newDeleteAccount(f *selfFixture) *account.DeleteAccount {
	return account.NewDeleteAccount(f.Users, f.Tx, f.check, f.stepUp, apptest.NewClock(apptest.T0), &apptest.IDs{})
}

// passwordOnly is a session of u from before MFA was turned on.
func passwordOnly(u *user.User) *session.Session {
	return session.Rehydrate(apptest.ID(50), u.ID(), apptest.T0.Add(-time.Hour), apptest.T0, apptest.T0.Add(time.Hour), nil, "ua", "ip")
}

// On an account with MFA on, the right password from a password-only
// session without a code is step_up_required: nothing is changed, no mail
// queued (no transaction: the strict mock).
func TestSensitiveChangesNeedAStepUpWithMFAOn(t *testing.T) {
	u := storedUser("owner@example.com", true, true)
	for name, call := range map[string]func(f *selfFixture) error{
		"delete": func(f *selfFixture) error {
			return newDeleteAccount(f).Handle(context.Background(), u.ID(), goodPassword, appmfa.Proof{Session: passwordOnly(u)}, meta)
		},
		"email change": func(f *selfFixture) error {
			return newChangeEmail(f).Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "thief@example.com", Password: goodPassword,
				Proof: appmfa.Proof{Session: passwordOnly(u)}, Meta: meta})
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newSelf(t)
			f.signedIn(u, true)
			f.expectCheck(t, true)
			if err := call(f); err != mfa.ErrStepUpRequired {
				t.Fatalf("err = %v, want exactly mfa.ErrStepUpRequired", err)
			}
		})
	}
}

// expectCheck expects the throttled password check with the given outcome.
func (f *selfFixture) expectCheck(t *testing.T, ok bool) {
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil).Times(2)
	f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), "$argon2id$old").Return(ok, false, nil)
	if ok {
		f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
		return
	}
	f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil)
	f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.LoginFailed {
			t.Errorf("audit %+v, want login_failed", e)
		}
		return nil
	})
}

func TestDeleteAccountNeedsThePassword(t *testing.T) {
	f := newSelf(t)
	h := newDeleteAccount(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, false)
	if err := h.Handle(context.Background(), u.ID(), "wrong", appmfa.Proof{}, meta); !errors.Is(err, domain.ErrWrongPassword) {
		t.Fatalf("Handle with a wrong password = %v", err) // and no transaction: the strict mock
	}
}

func TestDeleteAccountNoticeIsQueuedAfterTheDeletion(t *testing.T) {
	f := newSelf(t)
	h := newDeleteAccount(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	// Order is the behaviour: deleting takes the user's queued mail, so
	// the notice must be queued after it.
	gomock.InOrder(
		f.Repos.Users.EXPECT().Delete(gomock.Any(), u.ID()).Return(nil),
		f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
			if m.Kind != app.MailAccountDeleted || m.To != "owner@example.com" {
				t.Errorf("mail %+v", m)
			}
			return nil
		}),
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.AccountDeleted || e.UserID != u.ID() {
				t.Errorf("audit %+v", e)
			}
			return nil
		}),
	)
	if err := h.Handle(context.Background(), u.ID(), goodPassword, appmfa.Proof{}, meta); err != nil {
		t.Fatal(err)
	}
}

func newChangeEmail(f *selfFixture) *account.ChangeEmail {
	return account.NewChangeEmail(account.ChangeEmailDeps{
		Users:  f.Users,
		Tx:     f.Tx,
		Check:  f.check,
		StepUp: f.stepUp,
		Guard:  f.guard,
		Clock:  apptest.NewClock(apptest.T0),
		IDs:    &apptest.IDs{},
		Random: apptest.NewRand("email"),
		Links:  apptest.Links(),
		TTL:    account.VerificationTTL(verifyTTL),
	})
}

func TestChangeEmailToAFreeAddressMailsALinkThere(t *testing.T) {
	f := newSelf(t)
	h := newChangeEmail(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil) // the mail limit
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeChangeEmail)).Return(1, nil)
	var tok *token.OneTimeToken
	f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, t *token.OneTimeToken) error {
		tok = t
		return nil
	})
	var mails []app.OutboundMail
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		mails = append(mails, m)
		return nil
	}).Times(2)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
	if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "New@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	if tok == nil || tok.Purpose() != token.PurposeChangeEmail || tok.NewEmail() != "new@example.com" {
		t.Fatalf("token %+v", tok)
	}
	if len(mails) != 2 || mails[0].Kind != app.MailConfirmEmailChange || mails[0].To != "new@example.com" ||
		!strings.HasPrefix(mails[0].Data["link"], apptest.PublicURL+"/confirm-email?token=") || mails[0].Data["expires_in"] != strconv.Itoa(int(verifyTTL.Seconds())) ||
		mails[1].Kind != app.MailEmailChangeRequested || mails[1].To != "owner@example.com" {
		t.Fatalf("mails %+v", mails)
	}
}

func TestChangeEmailToATakenAddressOnlyNotifiesTheOwner(t *testing.T) {
	f := newSelf(t)
	h := newChangeEmail(f)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	f.Seed(user.Rehydrate(apptest.ID(200), user.RehydrateEmail("taken@example.com"), "$argon2id$x", true, true,
		apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil))
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeChangeEmail)).Return(0, nil)
	f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
		if m.Kind != app.MailEmailChangeRequested || m.To != "owner@example.com" {
			t.Errorf("mail %+v", m)
		}
		return nil
	})
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Detail["link_sent"] != "false" {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	// Same answer as for a free address; no token is stored (strict mock).
	if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "taken@example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatal(err)
	}
}

func TestConfirmEmailChangeSwitchesAndRevokesOtherSessions(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.guard, apptest.NewClock(apptest.T0))
	secret, hash, _ := token.NewSecret(apptest.NewRand("confirm"))
	tok, _ := token.IssueForEmailChange(hash, apptest.ID(100), "new@example.com", apptest.T0.Add(-time.Hour), verifyTTL)
	u := storedUser("owner@example.com", false, true)
	keep := apptest.ID(7)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.Seed(u)
	f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), keep, apptest.T0).Return(2, nil)
	apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, nil)
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0,
		apptest.Purposes(token.PurposeResetPassword, token.PurposeInvite, token.PurposeVerifyEmail, token.PurposeChangeEmail)).Return(0, nil)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.EmailChanged || e.Detail["old_email"] != "owner@example.com" || e.Detail["new_email"] != "new@example.com" {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	got, err := h.Handle(context.Background(), secret.Reveal(), keep, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email().String() != "new@example.com" || !got.Verified() || tok.UsedAt() == nil {
		t.Fatalf("user %s verified %t, token used %v", got.Email(), got.Verified(), tok.UsedAt())
	}
}

// pendingRegistration is a stranger's pending registration of email.
func pendingRegistration(email string) *user.User {
	return user.Rehydrate(apptest.ID(200), user.RehydrateEmail(email), "$argon2id$stranger", true, false,
		apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil).RestorePending(true)
}

// A pending registration does not own its address: the change link goes
// there as to a free address. An unverified account that is not a pending
// registration (an operator's, say) still owns it.
func TestChangeEmailToAPendingRegistration(t *testing.T) {
	for _, c := range []struct {
		name   string
		holder *user.User
		link   bool
	}{
		{"pending registration", pendingRegistration("held@example.com"), true},
		{"operator's unverified account", user.Rehydrate(apptest.ID(200), user.RehydrateEmail("held@example.com"), "$argon2id$x", true, false,
			apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newSelf(t)
			h := newChangeEmail(f)
			u := storedUser("owner@example.com", true, true)
			f.signedIn(u, false)
			f.expectCheck(t, true)
			f.Seed(c.holder)
			if c.link {
				f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil) // the mail limit
				f.Repos.Tokens.EXPECT().Add(gomock.Any(), gomock.Any()).Return(nil)
			}
			apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, u.ID())
			f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, apptest.Purposes(token.PurposeChangeEmail)).Return(0, nil)
			var mails []app.OutboundMail
			f.Repos.Outbox.EXPECT().Enqueue(gomock.Any(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, m app.OutboundMail, _ time.Time) error {
				mails = append(mails, m)
				return nil
			}).AnyTimes()
			f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
			if err := h.Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "held@example.com", Password: goodPassword, Meta: meta}); err != nil {
				t.Fatal(err)
			}
			sent := len(mails) == 2 && mails[0].Kind == app.MailConfirmEmailChange && mails[0].To == "held@example.com"
			if sent != c.link || mails[len(mails)-1].Kind != app.MailEmailChangeRequested {
				t.Fatalf("link sent %v, want %v; mails %+v", sent, c.link, mails)
			}
		})
	}
}

// Confirming a change to an address a pending registration holds deletes
// that registration (its links die with it) in the same transaction,
// before the move, and says so in the audit.
func TestConfirmEmailChangeDeletesAPendingRegistration(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.guard, apptest.NewClock(apptest.T0))
	secret, hash, _ := token.NewSecret(apptest.NewRand("confirm"))
	tok, _ := token.IssueForEmailChange(hash, apptest.ID(100), "held@example.com", apptest.T0.Add(-time.Hour), verifyTTL)
	u := storedUser("owner@example.com", true, true)
	stranger := pendingRegistration("held@example.com")
	res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
	f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
	f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(100)).Return(u, nil)
	gomock.InOrder(
		f.Repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("held@example.com")).Return(stranger, nil),
		// Its links first, then the account: the order a verification of
		// it takes them in.
		f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), apptest.ID(200), apptest.T0, gomock.Any()).Return(1, nil),
		f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(200)).Return(stranger, nil),
		f.Repos.Users.EXPECT().Delete(gomock.Any(), apptest.ID(200)).Return(nil),
		f.Repos.Users.EXPECT().Update(gomock.Any(), u).Return(nil),
	)
	f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), u.ID(), uuid.Nil, apptest.T0).Return(0, nil)
	f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), u.ID(), apptest.T0, gomock.Any()).Return(0, nil)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
		if e.Type != audit.EmailChanged || e.Detail["pending_registration_deleted"] != apptest.ID(200).String() || e.Detail["new_email"] != "held@example.com" {
			t.Errorf("audit %+v", e)
		}
		return nil
	})
	apptest.ExpectLoginFailuresCleared(t.Errorf, f.RL, nil)
	got, err := h.Handle(context.Background(), secret.Reveal(), uuid.Nil, meta)
	if err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); errs[0] != nil || got.Email().String() != "held@example.com" {
		t.Fatalf("tx %v, email %s", errs, got.Email())
	}
}

// An address that an account owns (verified since the request, say) is
// never deleted: the move fails on the unique address and nothing stays.
func TestConfirmEmailChangeKeepsAnOwner(t *testing.T) {
	for _, c := range []struct {
		name string
		// holder as ByEmail sees it, then as the read for change sees it
		seen, locked *user.User
	}{
		{"verified owner", storedUser("held@example.com", true, true), nil},
		{"verified while the change ran", pendingRegistration("held@example.com"),
			user.Rehydrate(apptest.ID(200), user.RehydrateEmail("held@example.com"), "$argon2id$stranger", true, true,
				apptest.T0.Add(-time.Hour), apptest.T0, nil, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newSelf(t)
			h := account.NewConfirmEmailChange(f.Tx, f.guard, apptest.NewClock(apptest.T0))
			secret, hash, _ := token.NewSecret(apptest.NewRand("confirm"))
			owner := user.Rehydrate(apptest.ID(300), user.RehydrateEmail("owner@example.com"), "$argon2id$old", true, true,
				apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Hour), nil, nil)
			tok, _ := token.IssueForEmailChange(hash, owner.ID(), "held@example.com", apptest.T0.Add(-time.Hour), verifyTTL)
			res := apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
			f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(tok, nil)
			f.Repos.Tokens.EXPECT().MarkUsed(gomock.Any(), tok).Return(nil)
			f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), owner.ID()).Return(owner, nil)
			f.Repos.Users.EXPECT().ByEmail(gomock.Any(), apptest.Email("held@example.com")).Return(c.seen, nil)
			if c.locked != nil {
				f.Repos.Tokens.EXPECT().InvalidateUnused(gomock.Any(), apptest.ID(200), apptest.T0, gomock.Any()).Return(1, nil)
				f.Repos.Users.EXPECT().ByIDForChange(gomock.Any(), apptest.ID(200)).Return(c.locked, nil)
			}
			// No Delete (strict mock); the unique index refuses the move.
			f.Repos.Users.EXPECT().Update(gomock.Any(), owner).Return(user.ErrEmailTaken)
			if _, err := h.Handle(context.Background(), secret.Reveal(), uuid.Nil, meta); !errors.Is(err, user.ErrEmailTaken) {
				t.Fatalf("err = %v, want email_taken", err)
			}
			if errs := res.Errs(); errs[0] == nil {
				t.Fatal("the transaction committed")
			}
		})
	}
}

func TestConfirmEmailChangeRefusesOtherLinks(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.guard, apptest.NewClock(apptest.T0))
	secret, hash, _ := token.NewSecret(apptest.NewRand("confirm"))
	reset, _ := token.Issue(hash, apptest.ID(100), token.PurposeResetPassword, apptest.T0, time.Hour)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Tokens.EXPECT().ByHashForChange(gomock.Any(), hash).Return(reset, nil)
	if _, err := h.Handle(context.Background(), secret.Reveal(), uuid.Nil, meta); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("a reset link = %v, want invalid_token", err)
	}
}

// An invalid new address is refused, naming new_email, before any lookup
// (the strict mocks expect nothing).
func TestChangeEmailRefusesAnInvalidAddressFirst(t *testing.T) {
	f := newSelf(t)
	err := newChangeEmail(f).Handle(context.Background(), account.ChangeEmailInput{UserID: apptest.ID(1), NewEmail: "not an address", Password: "x", Meta: meta})
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Field != "new_email" {
		t.Fatalf("invalid address: %v", err)
	}
}

// The current address asked again, in another case: after the password
// check, nothing to change, nothing mailed and no transaction, the same
// answer as a change.
func TestChangeEmailToTheCurrentAddressChangesNothing(t *testing.T) {
	f := newSelf(t)
	u := storedUser("owner@example.com", true, true)
	f.signedIn(u, false)
	f.expectCheck(t, true)
	if err := newChangeEmail(f).Handle(context.Background(), account.ChangeEmailInput{UserID: u.ID(), NewEmail: "Owner@Example.com", Password: goodPassword, Meta: meta}); err != nil {
		t.Fatalf("the current address: %v", err)
	}
}

// A malformed confirmation token is refused before any transaction.
func TestConfirmEmailChangeRefusesAMalformedTokenFirst(t *testing.T) {
	f := newSelf(t)
	h := account.NewConfirmEmailChange(f.Tx, f.guard, apptest.NewClock(apptest.T0))
	if _, err := h.Handle(context.Background(), "nope", uuid.Nil, app.RequestMeta{}); !errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("malformed token: %v", err)
	}
}
