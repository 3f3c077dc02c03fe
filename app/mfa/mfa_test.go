package mfa_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
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
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const storedHash = "$argon2id$stored"

var meta = app.RequestMeta{IP: "203.0.113.9", UserAgent: "test-agent"}

// fixture holds the mocks every MFA use case draws from.
type fixture struct {
	*apptest.Ports
	sealer   *mock.MockSealer
	totp     *mock.MockTOTP
	check    *limits.PasswordCheck
	verifier *appmfa.Verifier
	attempts *appmfa.Attempts
	u        *user.User
}

func newFixture(t *testing.T) *fixture {
	p := apptest.NewPorts(t)
	f := &fixture{Ports: p, sealer: mock.NewMockSealer(p.Ctrl), totp: mock.NewMockTOTP(p.Ctrl)}
	f.check = f.PasswordCheck()
	// The authenticator's code of a step is its last six digits, of the
	// secret the sealer opened.
	f.verifier = appmfa.NewVerifier(apptest.TOTP{Secret: plainSecret}, f.sealer)
	f.attempts = appmfa.NewAttempts(f.Guard, f.Audit, f.Clock)
	f.u = user.Rehydrate(apptest.ID(100), apptest.Email("owner@example.com"), storedHash, true, true,
		apptest.T0.Add(-48*time.Hour), apptest.T0.Add(-48*time.Hour), nil, nil)
	return f
}

var (
	plainSecret  = bytes.Repeat([]byte{7}, mfa.SecretBytes)
	sealedSecret = []byte("sealed:0123456789012345678901234567890123456789")
)

// codeAt is the fake authenticator's code for the step d steps from now.
func codeAt(d int64) string {
	return fmt.Sprintf("%06d", (mfa.Step(apptest.T0)+d)%1000000)
}

func (f *fixture) factor(confirmed bool) *mfa.TOTP {
	var at *time.Time
	var step *int64
	if confirmed {
		c, s := apptest.T0.Add(-time.Hour), mfa.Step(apptest.T0)-200
		at, step = &c, &s
	}
	return mfa.RehydrateTOTP(f.u.ID(), sealedSecret, apptest.T0.Add(-2*time.Hour), at, step)
}

// signedIn seeds the signed-in user and, when not nil, their factor.
func (f *fixture) signedIn(factor *mfa.TOTP) {
	f.Seed(f.u)
	if factor != nil {
		f.SeedTOTP(factor)
	}
}

// expectOpen lets the sealed secret open under the user's label.
func (f *fixture) expectOpen(t *testing.T) {
	f.sealer.EXPECT().Open(sealedSecret, "totp:"+f.u.ID().String()).Return(plainSecret, nil)
}

// expectBegin expects one attempt counted (pair, then account) and let
// through.
func (f *fixture) expectBegin() *gomock.Call {
	return f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(true, time.Duration(0), nil).Times(2)
}

// expectSuccess expects the run of failures ended (pair and account).
func (f *fixture) expectSuccess() *gomock.Call {
	return f.RL.EXPECT().Reset(gomock.Any(), gomock.Any()).Return(nil).Times(2)
}

// expectCodeFailed expects the failure read back and audited as
// mfa_code_failed during the given operation.
func (f *fixture) expectCodeFailed(t *testing.T, during string) {
	gomock.InOrder(
		f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil),
		f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
			if e.Type != audit.MFACodeFailed || e.UserID != f.u.ID() || e.IP != meta.IP || e.Detail["during"] != during {
				t.Errorf("audit %+v, want mfa_code_failed during %s", e, during)
			}
			return errors.New("audit down: must not change the answer")
		}),
	)
}

// expectPassword expects the throttled password check.
func (f *fixture) expectPassword(ok bool) {
	f.expectBegin()
	f.Hasher.EXPECT().Verify(gomock.Any(), gomock.Any(), storedHash).Return(ok, false, nil)
	if ok {
		f.expectSuccess()
		return
	}
	f.RL.EXPECT().Blocked(gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Duration(0), nil)
	f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
}

func (f *fixture) newStart() *appmfa.Start {
	return appmfa.NewStart(appmfa.StartDeps{
		Users:   f.Users,
		Factors: f.Factors,
		Tx:      f.Tx,
		Check:   f.check,
		TOTP:    f.totp,
		Sealer:  f.sealer,
		Clock:   f.Clock,
		Random:  apptest.NewRand("start"),
		Issuer:  appmfa.IssuerOf("", apptest.Links()),
	})
}

func TestStartSealsAFreshSecretAndShowsIt(t *testing.T) {
	for _, pending := range []bool{false, true} {
		f := newFixture(t)
		h := f.newStart()
		f.signedIn(nil)
		if pending {
			f.SeedTOTP(f.factor(false)) // started before: replaced
		}
		f.expectPassword(true)
		var plain []byte
		f.sealer.EXPECT().Seal(gomock.Any(), "totp:"+f.u.ID().String()).DoAndReturn(func(p []byte, _ string) ([]byte, error) {
			plain = bytes.Clone(p)
			return sealedSecret, nil
		})
		f.totp.EXPECT().KeyURI("auth.example.test", "owner@example.com", gomock.Any()).DoAndReturn(func(_, _ string, s []byte) (string, error) {
			return "otpauth://totp/x?secret=" + mfa.EncodeSecret(s), nil
		})
		f.totp.EXPECT().KeyQR(gomock.Any()).DoAndReturn(func(uri string) ([]byte, error) {
			return []byte("png of " + uri), nil
		})
		apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
		gomock.InOrder(
			f.Repos.MFA.EXPECT().PutPendingTOTP(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, got *mfa.TOTP) error {
				if got.UserID() != f.u.ID() || !bytes.Equal(got.SealedSecret(), sealedSecret) || got.Enabled() || !got.CreatedAt().Equal(apptest.T0) {
					t.Errorf("stored %+v: want the sealed secret, pending", got)
				}
				return nil
			}),
		)
		e, err := h.Handle(context.Background(), appmfa.StartInput{UserID: f.u.ID(), Password: "pw", Meta: meta})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
		if err != nil || len(raw) != mfa.SecretBytes || !bytes.Equal(raw, plain) {
			t.Fatalf("shown secret %q is not the sealed 20 bytes", e.Secret)
		}
		if !strings.Contains(e.URI, e.Secret) || fmt.Sprint(e) != "[redacted]" {
			t.Fatalf("enrollment %s / %q", e.URI, fmt.Sprint(e))
		}
		if string(e.QRPNG) != "png of "+e.URI {
			t.Fatalf("the QR code %q is not the one of the URI %s", e.QRPNG, e.URI)
		}
	}
}

// refusal is a case of a use case refusing the password given: what it
// expects before the call (strict mocks: nothing else), and exactly the
// error it wants.
type refusal struct {
	name     string
	password string
	expect   func(t *testing.T, f *fixture)
	want     error
}

func (c refusal) run(t *testing.T, call func(f *fixture, password string) error) {
	t.Run(c.name, func(t *testing.T) {
		f := newFixture(t)
		c.expect(t, f)
		if err := call(f, c.password); err != c.want {
			t.Fatalf("err = %v, want exactly %v", err, c.want)
		}
	})
}

func TestStartRefusals(t *testing.T) {
	for _, c := range []refusal{
		{"already enabled: before any password check", "pw", func(_ *testing.T, f *fixture) { f.signedIn(f.factor(true)) }, mfa.ErrAlreadyEnabled},
		{"wrong password: nothing made", "wrong", func(_ *testing.T, f *fixture) {
			f.signedIn(nil)
			f.expectPassword(false)
		}, domain.ErrWrongPassword},
		{"deleted account", "pw", func(_ *testing.T, f *fixture) {
			f.Users.EXPECT().ByID(gomock.Any(), f.u.ID()).Return(nil, user.ErrNotFound)
		}, domain.ErrUnauthorized},
		{"confirmed meanwhile", "pw", func(t *testing.T, f *fixture) {
			f.signedIn(nil)
			f.expectPassword(true)
			f.sealer.EXPECT().Seal(gomock.Any(), gomock.Any()).Return(sealedSecret, nil)
			f.totp.EXPECT().KeyURI(gomock.Any(), gomock.Any(), gomock.Any()).Return("otpauth://totp/x", nil)
			f.totp.EXPECT().KeyQR("otpauth://totp/x").Return([]byte("png"), nil)
			apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			f.Repos.MFA.EXPECT().PutPendingTOTP(gomock.Any(), gomock.Any()).Return(mfa.ErrAlreadyEnabled)
		}, mfa.ErrAlreadyEnabled},
	} {
		c.run(t, func(f *fixture, password string) error {
			_, err := f.newStart().Handle(context.Background(), appmfa.StartInput{UserID: f.u.ID(), Password: password, Meta: meta})
			return err
		})
	}
}

func (f *fixture) newConfirm() *appmfa.Confirm {
	return appmfa.NewConfirm(appmfa.ConfirmDeps{
		Users:    f.Users,
		Factors:  f.Factors,
		Tx:       f.Tx,
		Verifier: f.verifier,
		Attempts: f.attempts,
		Clock:    f.Clock,
		IDs:      &apptest.IDs{},
		Random:   apptest.NewRand("confirm"),
	})
}

// sessionID is the caller's session in the tests.
var sessionID = apptest.ID(50)

// A code of the step before now confirms: that step is recorded as used,
// ten recovery codes are stored by hash (the ones shown), the confirming
// session is upgraded to amr ["pwd", "otp"] at now, every other session of
// the user is revoked, user.mfa_enabled (showing it on) and one
// session.revoked for the others are published, the owner is mailed, the
// event audited, and the second-factor counters cleared.
func TestConfirmEnablesAndShowsTheRecoveryCodesOnce(t *testing.T) {
	f := newFixture(t)
	f.signedIn(f.factor(false))
	f.expectBegin()
	f.expectOpen(t)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	var stored []token.Hash
	gomock.InOrder(
		f.Repos.MFA.EXPECT().ConfirmTOTP(gomock.Any(), f.u.ID(), sealedSecret, apptest.T0, mfa.Step(apptest.T0)-1).DoAndReturn(
			func(context.Context, uuid.UUID, []byte, time.Time, int64) (bool, error) {
				f.SeedTOTP(f.factor(true))
				return true, nil
			}),
		f.Repos.MFA.EXPECT().ReplaceRecoveryCodes(gomock.Any(), f.u.ID(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, _ uuid.UUID, h []token.Hash, _ time.Time) error {
			stored = h
			return nil
		}),
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), sessionID).Return(
			session.Rehydrate(sessionID, f.u.ID(), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "ua", "ip"), nil),
		f.Repos.Sessions.EXPECT().Update(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, s *session.Session) error {
			if s.ID() != sessionID || !slices.Equal(s.AMR(), []string{"pwd", "otp"}) || !s.AuthTime().Equal(apptest.T0) {
				t.Errorf("confirming session saved as amr %v auth_time %v", s.AMR(), s.AuthTime())
			}
			return nil
		}),
		f.Repos.Sessions.EXPECT().RevokeAll(gomock.Any(), f.u.ID(), sessionID, apptest.T0).Return(3, nil),
		apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
			return m.Kind == app.MailMFAEnabled && m.To == "owner@example.com" && m.UserID == f.u.ID()
		}),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.MFAEnabled && e.UserID == f.u.ID() && e.Detail["sessions_revoked"] == "3"
		}),
		f.expectSuccess(),
	)
	// Both show MFA on: published after the confirmation.
	f.Repos.Published(apptest.Events(f.u.ID(), webhook.UserMFAEnabled).MFA())
	f.Repos.Published(apptest.Events(f.u.ID(), webhook.SessionRevoked).MFA())
	codes, err := f.newConfirm().Handle(context.Background(), f.u.ID(), sessionID, " "+codeAt(-1)+" ", meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != mfa.RecoveryCodeCount || len(stored) != mfa.RecoveryCodeCount {
		t.Fatalf("%d codes shown, %d stored", len(codes), len(stored))
	}
	for i, c := range codes {
		if h, ok := mfa.ParseRecoveryCode(c.Reveal()); !ok || h != stored[i] {
			t.Fatalf("code %d shown is not the one stored", i)
		}
	}
}

func TestConfirmRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		factor func(f *fixture) *mfa.TOTP
		want   error
	}{
		{"not started", func(*fixture) *mfa.TOTP { return nil }, mfa.ErrNotStarted},
		{"already enabled", func(f *fixture) *mfa.TOTP { return f.factor(true) }, mfa.ErrAlreadyEnabled},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.signedIn(c.factor(f))
			if _, err := f.newConfirm().Handle(context.Background(), f.u.ID(), sessionID, codeAt(0), meta); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// Two steps away, or not a code at all: a failure counted and
	// audited, nothing stored (no transaction).
	for _, code := range []string{codeAt(2), codeAt(-2), "abcdef", "12345"} {
		t.Run("wrong code "+code, func(t *testing.T) {
			f := newFixture(t)
			f.signedIn(f.factor(false))
			f.expectBegin()
			f.expectOpen(t)
			f.expectCodeFailed(t, "mfa_confirm")
			if _, err := f.newConfirm().Handle(context.Background(), f.u.ID(), sessionID, code, meta); err != mfa.ErrWrongCode {
				t.Fatalf("err = %v, want exactly mfa.ErrWrongCode", err)
			}
		})
	}
	// upToConfirm expects a right code of the pending factor up to its
	// conditional confirmation, which answers confirmed; then, when
	// another is given, that factor is the user's.
	upToConfirm := func(t *testing.T, confirmed bool, another *mfa.TOTP) *fixture {
		f := newFixture(t)
		f.signedIn(f.factor(false))
		f.expectBegin()
		f.expectOpen(t)
		apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
		f.Repos.MFA.EXPECT().ConfirmTOTP(gomock.Any(), f.u.ID(), sealedSecret, apptest.T0, mfa.Step(apptest.T0)).DoAndReturn(
			func(context.Context, uuid.UUID, []byte, time.Time, int64) (bool, error) {
				if another != nil {
					f.SeedTOTP(another)
				}
				return confirmed, nil
			})
		return f
	}
	t.Run("started again meanwhile", func(t *testing.T) {
		f := upToConfirm(t, false, mfa.RehydrateTOTP(apptest.ID(100), []byte("another"), apptest.T0, nil, nil))
		if _, err := f.newConfirm().Handle(context.Background(), f.u.ID(), sessionID, codeAt(0), meta); !errors.Is(err, mfa.ErrNotStarted) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("confirming session revoked meanwhile: rolled back", func(t *testing.T) {
		f := upToConfirm(t, true, nil)
		f.Repos.MFA.EXPECT().ReplaceRecoveryCodes(gomock.Any(), f.u.ID(), gomock.Any(), apptest.T0).Return(nil)
		rev := apptest.T0.Add(-time.Second)
		f.Repos.Sessions.EXPECT().ByIDForChange(gomock.Any(), sessionID).Return(
			session.Rehydrate(sessionID, f.u.ID(), apptest.T0.Add(-time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), &rev, "ua", "ip"), nil)
		if _, err := f.newConfirm().Handle(context.Background(), f.u.ID(), sessionID, codeAt(0), meta); !errors.Is(err, domain.ErrUnauthorized) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("throttled: no code checked", func(t *testing.T) {
		f := newFixture(t)
		f.signedIn(f.factor(false))
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(false, time.Minute, nil)
		apptest.ExpectAudit(t, f.Audit, func(e audit.Event) bool {
			return e.Type == audit.LoginThrottled && e.UserID == f.u.ID()
		})
		if _, err := f.newConfirm().Handle(context.Background(), f.u.ID(), sessionID, codeAt(0), meta); !errors.Is(err, domain.ErrRateLimited) {
			t.Fatalf("err = %v", err)
		}
	})
}

func (f *fixture) newStepUp() *appmfa.StepUp {
	return appmfa.NewStepUp(f.Factors, f.Tx, f.verifier, f.attempts, f.Clock, appmfa.StepUpMaxAge(15*time.Minute))
}

func (f *fixture) newDisable() *appmfa.Disable {
	return appmfa.NewDisable(appmfa.DisableDeps{
		Users:   f.Users,
		Factors: f.Factors,
		Tx:      f.Tx,
		Check:   f.check,
		StepUp:  f.newStepUp(),
		Clock:   f.Clock,
		IDs:     &apptest.IDs{},
	})
}

// sessionOf is a session of the user that authenticated with amr at
// authTime.
func (f *fixture) sessionOf(amr []string, authTime time.Time) *session.Session {
	s := session.Rehydrate(sessionID, f.u.ID(), apptest.T0.Add(-2*time.Hour), apptest.T0.Add(-time.Minute), apptest.T0.Add(time.Hour), nil, "ua", "ip")
	s.RehydrateAuthentication(amr, authTime)
	return s
}

// expectCodeUsed expects the step-up's transaction to consume code (a
// TOTP code of step d from now, or the recovery code with hash h) and the
// counters reset.
func (f *fixture) expectCodeUsed(t *testing.T, d int64, h *token.Hash) {
	f.expectBegin()
	var calls []any
	if h == nil {
		f.expectOpen(t)
		calls = append(calls, f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)+d).Return(true, nil))
	} else {
		calls = append(calls,
			f.Repos.MFA.EXPECT().UseRecoveryCode(gomock.Any(), f.u.ID(), *h, apptest.T0).Return(true, nil),
			f.Repos.MFA.EXPECT().UnusedRecoveryCodes(gomock.Any(), f.u.ID()).Return(9, nil),
			apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
				return e.Type == audit.MFARecoveryCodeUsed && e.Detail["remaining"] == "9"
			}))
	}
	calls = append(calls, f.expectSuccess())
	gomock.InOrder(calls...)
}

// expectDisabled expects the factor deleted, user.mfa_disabled (showing
// it off) published, the owner mailed and the event audited with what
// stepped the request up.
func (f *fixture) expectDisabled(t *testing.T, method mfa.Method) {
	gomock.InOrder(
		f.Repos.MFA.EXPECT().DeleteTOTP(gomock.Any(), f.u.ID()).DoAndReturn(func(context.Context, uuid.UUID) (bool, error) {
			f.Repos.Store.ForgetTOTP(f.u.ID())
			return true, nil
		}),
		apptest.ExpectMail(t, f.Repos.Outbox, func(m app.OutboundMail) bool {
			return m.Kind == app.MailMFADisabled && m.To == "owner@example.com" && m.Data["by"] == "owner"
		}),
		apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.MFADisabled && e.Detail["method"] == string(method)
		}),
	)
	// Shows MFA off: published after the deletion.
	f.Repos.Published(apptest.Events(f.u.ID(), webhook.UserMFADisabled))
}

func TestDisableWithPasswordAndCode(t *testing.T) {
	recovery, hashes, err := mfa.NewRecoveryCodes(apptest.NewRand("codes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, code string
		method     mfa.Method
	}{{"totp", codeAt(1), mfa.MethodTOTP}, {"recovery code", strings.ToLower(recovery[2].Reveal()), mfa.MethodRecoveryCode}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.signedIn(f.factor(true))
			f.expectPassword(true)
			apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 2, f.u.ID())
			if c.method == mfa.MethodTOTP {
				f.expectCodeUsed(t, 1, nil)
			} else {
				f.expectCodeUsed(t, 0, &hashes[2])
			}
			f.expectDisabled(t, c.method)
			// A password-only session: the code steps it up.
			in := appmfa.DisableInput{UserID: f.u.ID(), Password: "pw", Proof: appmfa.Proof{Session: f.sessionOf([]string{"pwd"}, apptest.T0), Code: c.code}, Meta: meta}
			if err := f.newDisable().Handle(context.Background(), in); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A session that proved a code within the max age turns MFA off with the
// password alone; no code is counted or checked.
func TestDisableFromASteppedUpSessionWithoutCode(t *testing.T) {
	f := newFixture(t)
	f.signedIn(f.factor(true))
	f.expectPassword(true)
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	f.expectDisabled(t, appmfa.ProvedBySession)
	in := appmfa.DisableInput{UserID: f.u.ID(), Password: "pw", Proof: appmfa.Proof{Session: f.sessionOf([]string{"pwd", "otp"}, apptest.T0.Add(-15*time.Minute))}, Meta: meta}
	if err := f.newDisable().Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func TestDisableRefusals(t *testing.T) {
	for _, c := range []refusal{
		{"not enabled", "pw", func(_ *testing.T, f *fixture) { f.signedIn(f.factor(false)) }, mfa.ErrNotEnabled},
		{"wrong password: no code checked", "x", func(_ *testing.T, f *fixture) {
			f.signedIn(f.factor(true))
			f.expectPassword(false)
		}, domain.ErrWrongPassword},
		{"replayed code", "pw", func(t *testing.T, f *fixture) {
			f.signedIn(f.factor(true))
			f.expectPassword(true)
			f.expectBegin()
			f.expectOpen(t)
			res := apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
			f.Repos.MFA.EXPECT().UseTOTPStep(gomock.Any(), f.u.ID(), mfa.Step(apptest.T0)).Return(false, nil) // used already
			f.expectCodeFailed(t, "mfa_disable")
			t.Cleanup(func() {
				if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
					t.Errorf("transaction results %v", errs)
				}
			})
		}, mfa.ErrWrongCode},
	} {
		c.run(t, func(f *fixture, password string) error {
			return f.newDisable().Handle(context.Background(), appmfa.DisableInput{UserID: f.u.ID(), Password: password, Proof: appmfa.Proof{Code: codeAt(0)}, Meta: meta})
		})
	}
	// Without a code, a session that has not proved a second factor
	// within the max age is refused after the password check, before
	// any code is counted or anything changes.
	othersSession := session.Rehydrate(sessionID, apptest.ID(999), apptest.T0, apptest.T0, apptest.T0.Add(time.Hour), nil, "", "")
	othersSession.Proved(session.MethodOTP, apptest.T0)
	for name, s := range map[string]*session.Session{
		"no session":             nil,
		"password-only session":  newFixture(t).sessionOf([]string{"pwd"}, apptest.T0),
		"otp session, too old":   newFixture(t).sessionOf([]string{"pwd", "otp"}, apptest.T0.Add(-15*time.Minute-time.Second)),
		"another user's session": othersSession,
	} {
		t.Run("step-up required: "+name, func(t *testing.T) {
			f := newFixture(t)
			f.signedIn(f.factor(true))
			f.expectPassword(true)
			err := f.newDisable().Handle(context.Background(), appmfa.DisableInput{UserID: f.u.ID(), Password: "pw", Proof: appmfa.Proof{Session: s}, Meta: meta})
			if err != mfa.ErrStepUpRequired {
				t.Fatalf("err = %v, want exactly mfa.ErrStepUpRequired", err)
			}
		})
	}
}

func (f *fixture) newRegenerate() *appmfa.Regenerate {
	return appmfa.NewRegenerate(f.Users, f.Factors, f.Tx, f.newStepUp(), f.Clock, apptest.NewRand("regenerate"))
}

func TestRegenerateNeedsATOTPCodeOrASteppedUpSession(t *testing.T) {
	f := newFixture(t)
	f.signedIn(f.factor(true))

	// A recovery code does not mint new ones (and is not used up).
	f.expectBegin()
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 1, f.u.ID())
	recovery, _, _ := mfa.NewRecoveryCodes(apptest.NewRand("codes"))
	f.expectCodeFailed(t, "mfa_recovery_codes")
	if _, err := f.newRegenerate().Handle(context.Background(), f.u.ID(), appmfa.Proof{Code: recovery[0].Reveal()}, meta); err != mfa.ErrWrongCode {
		t.Fatalf("with a recovery code: %v", err)
	}
	// No code from a password-only session: step-up required.
	if _, err := f.newRegenerate().Handle(context.Background(), f.u.ID(), appmfa.Proof{Session: f.sessionOf([]string{"pwd"}, apptest.T0)}, meta); err != mfa.ErrStepUpRequired {
		t.Fatalf("password-only session: %v", err)
	}

	expectReplaced := func() *[]token.Hash {
		var stored []token.Hash
		gomock.InOrder(
			f.Repos.MFA.EXPECT().ReplaceRecoveryCodes(gomock.Any(), f.u.ID(), gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, _ uuid.UUID, h []token.Hash, _ time.Time) error {
				stored = h
				return nil
			}),
			apptest.ExpectAudit(t, f.Repos.Audit, func(e audit.Event) bool {
				return e.Type == audit.MFARecoveryCodesRegenerated && e.Detail["count"] == "10"
			}),
		)
		return &stored
	}
	// A TOTP code.
	apptest.ExpectLockingWithin(t, f.Tx, f.Repos, 3, f.u.ID())
	f.expectCodeUsed(t, 0, nil)
	stored := expectReplaced()
	codes, err := f.newRegenerate().Handle(context.Background(), f.u.ID(), appmfa.Proof{Session: f.sessionOf([]string{"pwd"}, apptest.T0), Code: codeAt(0)}, meta)
	if err != nil || len(codes) != 10 || len(*stored) != 10 {
		t.Fatalf("Handle = %d codes, %v", len(codes), err)
	}
	if h, _ := mfa.ParseRecoveryCode(codes[9].Reveal()); h != (*stored)[9] {
		t.Fatal("the codes shown are not the ones stored")
	}
	// No code from a session that proved one a minute ago.
	stored = expectReplaced()
	if codes, err := f.newRegenerate().Handle(context.Background(), f.u.ID(), appmfa.Proof{Session: f.sessionOf([]string{"pwd", "otp"}, apptest.T0.Add(-time.Minute))}, meta); err != nil || len(codes) != 10 || len(*stored) != 10 {
		t.Fatalf("stepped-up session: %d codes, %v", len(codes), err)
	}
}

// The step-up rule itself: accounts without MFA pass whatever the request
// holds; with MFA on, a session that proved a second factor (otp, or a
// passkey's hwk) within the max age passes, anything else without a code
// is step_up_required; a code is counted before it is checked and, when
// the account's codes are used up, refused unchecked.
func TestStepUpRule(t *testing.T) {
	ctx := context.Background()
	t.Run("no MFA: nothing asked", func(t *testing.T) {
		for _, factor := range []func(*fixture) *mfa.TOTP{
			func(*fixture) *mfa.TOTP { return nil },
			func(f *fixture) *mfa.TOTP { return f.factor(false) }, // pending only
		} {
			f := newFixture(t)
			f.signedIn(factor(f))
			if m, err := f.newStepUp().Require(ctx, f.u, appmfa.Proof{Code: "000000"}, true, "x", meta); err != nil || m != "" {
				t.Fatalf("Require = %q, %v", m, err)
			}
		}
	})
	for _, c := range []struct {
		name string
		amr  []string
		age  time.Duration
		ok   bool
	}{
		{"otp, just now", []string{"pwd", "otp"}, 0, true},
		{"otp, at the max age", []string{"pwd", "otp"}, 15 * time.Minute, true},
		{"otp, past the max age", []string{"pwd", "otp"}, 15*time.Minute + time.Second, false},
		{"passkey", []string{"hwk", "user"}, time.Minute, true},
		{"password only, just now", []string{"pwd"}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.signedIn(f.factor(true))
			m, err := f.newStepUp().Require(ctx, f.u, appmfa.Proof{Session: f.sessionOf(c.amr, apptest.T0.Add(-c.age))}, true, "x", meta)
			if c.ok && (err != nil || m != appmfa.ProvedBySession) {
				t.Fatalf("Require = %q, %v; want the session to do", m, err)
			}
			if !c.ok && err != mfa.ErrStepUpRequired {
				t.Fatalf("Require = %q, %v; want step_up_required", m, err)
			}
		})
	}
	t.Run("code over the account's limit: refused unchecked", func(t *testing.T) {
		f := newFixture(t)
		f.signedIn(f.factor(true))
		f.RL.EXPECT().Hit(gomock.Any(), gomock.Any(), 10, 15*time.Minute).Return(false, 7*time.Minute, nil)
		f.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		_, err := f.newStepUp().Require(ctx, f.u, appmfa.Proof{Code: codeAt(0)}, true, "email_change", meta)
		var de *domain.Error
		if !errors.Is(err, domain.ErrRateLimited) || !errors.As(err, &de) || de.RetryAfter != 7*time.Minute {
			t.Fatalf("err = %v", err)
		}
	})
}

// MatchTOTP accepts the step itself and one either side, nothing further,
// and only six digits.
func TestMatchTOTPWindow(t *testing.T) {
	f := newFixture(t)
	s := mfa.Step(apptest.T0)
	for d := int64(-3); d <= 3; d++ {
		step, ok, err := f.verifier.MatchTOTP(plainSecret, codeAt(d), apptest.T0)
		if err != nil {
			t.Fatal(err)
		}
		if want := d >= -1 && d <= 1; ok != want || (ok && step != s+d) {
			t.Errorf("step %+d: MatchTOTP = %d, %v; want %v", d, step, ok, want)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456"} {
		if _, ok, _ := f.verifier.MatchTOTP(plainSecret, bad, apptest.T0); ok {
			t.Errorf("MatchTOTP(%q) accepted it", bad)
		}
	}
}

func TestSecretThatDoesNotOpenIsAnError(t *testing.T) {
	f := newFixture(t)
	f.sealer.EXPECT().Open(gomock.Any(), gomock.Any()).Return(nil, app.ErrSealBroken)
	_, err := f.verifier.Secret(f.factor(true))
	if !errors.Is(err, app.ErrSealBroken) || strings.Contains(err.Error(), string(plainSecret)) {
		t.Fatalf("err = %v", err)
	}
	var de *domain.Error
	if errors.As(err, &de) {
		t.Fatalf("a broken seal is %v: it must map to 500, not to an answer", de)
	}
}

func TestIssuerIsThePublicHostWithoutPort(t *testing.T) {
	for raw, want := range map[string]appmfa.Issuer{"https://auth.example.com": "auth.example.com", "http://localhost:8080/": "localhost", "https://[::1]:8443/base": "Gatehouse"} {
		l, err := app.NewLinks(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := appmfa.IssuerOf("", l); got != want {
			t.Errorf("IssuerOf(%s) = %q, want %q", raw, got, want)
		}
	}
}

// A configured product name is the issuer: authenticator apps list the
// code under it, not under the host. Colons (the label's separator) go.
func TestIssuerIsTheAppNameWhenSet(t *testing.T) {
	l, err := app.NewLinks("https://auth.example.com:8443")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]appmfa.Issuer{"Acme Cloud": "Acme Cloud", "Acme: Sign-in": "Acme Sign-in", " : ": "auth.example.com"} {
		if got := appmfa.IssuerOf(name, l); got != want {
			t.Errorf("IssuerOf(%q) = %q, want %q", name, got, want)
		}
	}
}
