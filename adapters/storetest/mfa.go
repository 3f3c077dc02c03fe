package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/session"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/google/uuid"
)

func init() {
	register("MFA/PendingFactorIsReplacedConfirmedStays", testMFAPendingAndConfirm)
	register("MFA/StepsOnlyGoUp", testMFAStepsOnlyUp)
	register("MFA/ConcurrentStepExactlyOneWins", testMFAConcurrentStep)
	register("MFA/ConcurrentConfirmExactlyOneWins", testMFAConcurrentConfirm)
	register("MFA/DeleteRemovesFactorCodesAndLoginTokens", testMFADelete)
	register("MFA/EnabledAmong", testMFAEnabledAmong)
	register("MFA/RecoveryCodesSingleUse", testMFARecoveryCodes)
	register("MFA/ConcurrentRecoveryCodeExactlyOneWins", testMFAConcurrentRecoveryCode)
	register("MFA/LoginTokenBurnsAndIsSingleUse", testMFALoginToken)
	register("MFA/ConcurrentLoginTokenExactlyOneWins", testMFAConcurrentLoginToken)
	register("MFA/DeletingTheUserTakesItAll", testMFAUserDelete)
	register("MFA/SessionKeepsItsAuthentication", testMFASession)
	register("MFA/ConcurrentLoginTokenAttemptsCountedUpToTheLimit", testMFAConcurrentLoginTokenAttempts)
}

// sealedSecret is a stand-in for a sealed TOTP secret (the store never
// opens it): random bytes longer than a plain secret.
func sealedSecret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 64)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func pendingTOTP(t *testing.T, userID uuid.UUID, at time.Time) *mfa.TOTP {
	t.Helper()
	return mustGet(mfa.NewPending(userID, sealedSecret(t), at))(t)
}

// enrolled stores a confirmed factor for a new user, with step as its last
// used step.
func enrolled(t *testing.T, s Store, step int64) (uuid.UUID, *mfa.TOTP) {
	t.Helper()
	ctx := testCtx(t)
	u := createUser(t, s)
	f := pendingTOTP(t, u.ID(), now())
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, f))
	ok, err := s.Repos.MFA.ConfirmTOTP(ctx, u.ID(), f.SealedSecret(), now(), step)
	if err != nil || !ok {
		t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
	}
	return u.ID(), f
}

func readTOTP(t *testing.T, s Store, userID uuid.UUID) *mfa.TOTP {
	t.Helper()
	f, err := s.Repos.MFA.TOTP(testCtx(t), userID)
	mustf(t, err, "TOTP")
	return f
}

func stepOf(f *mfa.TOTP) string {
	if f.LastUsedStep() == nil {
		return "<nil>"
	}
	return strconv.FormatInt(*f.LastUsedStep(), 10)
}

// A pending factor is replaced by the next PutPendingTOTP (starting again
// before confirming); ConfirmTOTP confirms only the sealed secret it was
// given, once; a confirmed factor is never replaced.
func testMFAPendingAndConfirm(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	wantErr(t, errOf(s.Repos.MFA.TOTP(ctx, u.ID())), mfa.ErrNotFound, "TOTP of a user without one")
	t0 := now()
	first := pendingTOTP(t, u.ID(), t0)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.MFA.PutPendingTOTP(ctx, first) })
	got := readTOTP(t, s, u.ID())
	if got.UserID() != u.ID() || !bytes.Equal(got.SealedSecret(), first.SealedSecret()) || !got.CreatedAt().Equal(t0) || got.Enabled() || got.LastUsedStep() != nil {
		t.Fatalf("pending factor read back as user=%s created=%v enabled=%v step=%s", got.UserID(), got.CreatedAt(), got.Enabled(), stepOf(got))
	}

	second := pendingTOTP(t, u.ID(), t0.Add(time.Minute))
	mustf(t, s.Repos.MFA.PutPendingTOTP(ctx, second), "replacing a pending factor")
	got = readTOTP(t, s, u.ID())
	if !bytes.Equal(got.SealedSecret(), second.SealedSecret()) || !got.CreatedAt().Equal(t0.Add(time.Minute)) {
		t.Fatal("the pending factor was not replaced")
	}
	// The first secret is gone: confirming it does nothing.
	wantBool(t, false, "ConfirmTOTP with the replaced secret")(s.Repos.MFA.ConfirmTOTP(ctx, u.ID(), first.SealedSecret(), now(), 100))
	confirmed := t0.Add(2 * time.Minute)
	var ok bool
	within(t, s, func(ctx context.Context, r app.Repos) error {
		var err error
		ok, err = r.MFA.ConfirmTOTP(ctx, u.ID(), second.SealedSecret(), confirmed, 100)
		return err
	})
	if !ok {
		t.Fatal("ConfirmTOTP of the pending secret did nothing")
	}
	got = readTOTP(t, s, u.ID())
	if !got.Enabled() || !got.ConfirmedAt().Equal(confirmed) || got.LastUsedStep() == nil || *got.LastUsedStep() != 100 {
		t.Fatalf("confirmed factor read back as enabled=%v at=%s step=%s", got.Enabled(), fmtTimePtr(got.ConfirmedAt()), stepOf(got))
	}
	wantBool(t, false, "confirming twice")(s.Repos.MFA.ConfirmTOTP(ctx, u.ID(), second.SealedSecret(), now(), 200))
	// Confirmed: starting again is refused, in a transaction too, and the
	// factor stays as it was.
	wantErr(t, s.Repos.MFA.PutPendingTOTP(ctx, pendingTOTP(t, u.ID(), now())), mfa.ErrAlreadyEnabled, "PutPendingTOTP over a confirmed factor")
	err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		return r.MFA.PutPendingTOTP(ctx, pendingTOTP(t, u.ID(), now()))
	})
	wantErr(t, err, mfa.ErrAlreadyEnabled, "PutPendingTOTP over a confirmed factor in a transaction")
	got = readTOTP(t, s, u.ID())
	if !got.Enabled() || !bytes.Equal(got.SealedSecret(), second.SealedSecret()) || *got.LastUsedStep() != 100 {
		t.Fatal("the confirmed factor changed")
	}
}

// UseTOTPStep accepts only a step above the highest used one, and only
// for a confirmed factor.
func testMFAStepsOnlyUp(t *testing.T, s Store) {
	ctx := testCtx(t)
	pending := createUser(t, s)
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, pendingTOTP(t, pending.ID(), now())))
	wantBool(t, false, "UseTOTPStep on a pending factor")(s.Repos.MFA.UseTOTPStep(ctx, pending.ID(), 1))
	wantBool(t, false, "UseTOTPStep of nobody")(s.Repos.MFA.UseTOTPStep(ctx, uuid.New(), 1))

	id, _ := enrolled(t, s, 100)
	for _, c := range []struct {
		step int64
		want bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}, {104, true}} {
		wantBool(t, c.want, "UseTOTPStep(%d)", c.step)(s.Repos.MFA.UseTOTPStep(ctx, id, c.step))
	}
	if got := readTOTP(t, s, id); *got.LastUsedStep() != 104 {
		t.Fatalf("last used step %d, want 104", *got.LastUsedStep())
	}
}

// Ten callers race to use one step (half on the store, half in
// transactions, as the use cases do): exactly one wins.
func testMFAConcurrentStep(t *testing.T, s Store) {
	id, _ := enrolled(t, s, 100)
	var wins, errs atomic.Int32
	race(10, func(i int) {
		var ok bool
		var err error
		if i%2 == 0 {
			ok, err = s.Repos.MFA.UseTOTPStep(testCtx(t), id, 101)
		} else {
			err = s.Tx.Within(testCtx(t), func(ctx context.Context, r app.Repos) error {
				var err error
				ok, err = r.MFA.UseTOTPStep(ctx, id, 101)
				return err
			})
		}
		if err != nil {
			errs.Add(1)
			t.Errorf("UseTOTPStep: %v", err)
		}
		if ok {
			wins.Add(1)
		}
	})
	if wins.Load() != 1 || errs.Load() != 0 {
		t.Fatalf("%d of 10 racing uses of one step won (%d errors); want exactly 1", wins.Load(), errs.Load())
	}
}

// Ten confirmations of one pending factor race: exactly one confirms.
func testMFAConcurrentConfirm(t *testing.T, s Store) {
	u := createUser(t, s)
	f := pendingTOTP(t, u.ID(), now())
	must(t, s.Repos.MFA.PutPendingTOTP(testCtx(t), f))
	oneWins(t, s, "confirmations", func(ctx context.Context, r app.Repos, i int) (bool, error) {
		return r.MFA.ConfirmTOTP(ctx, u.ID(), f.SealedSecret(), now(), int64(100+i))
	})
}

// oneWins runs fn in ten transactions released together and fails the
// test unless exactly one of them reports a win, and none an error.
func oneWins(t *testing.T, s Store, what string, fn func(ctx context.Context, r app.Repos, i int) (bool, error)) {
	t.Helper()
	var wins atomic.Int32
	race(10, func(i int) {
		err := s.Tx.Within(testCtx(t), func(ctx context.Context, r app.Repos) error {
			ok, err := fn(ctx, r, i)
			if ok {
				wins.Add(1)
			}
			return err
		})
		if err != nil {
			t.Errorf("racing %s: %v", what, err)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d of 10 racing %s won; want exactly 1", wins.Load(), what)
	}
}

// wantBool returns a check that a port's answer is want, with no error;
// what (a format, with args) names the call.
func wantBool(t *testing.T, want bool, what string, args ...any) func(got bool, err error) {
	return func(got bool, err error) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %v, %v; want %v", fmt.Sprintf(what, args...), got, err, want)
		}
	}
}

func addLoginToken(t *testing.T, s Store, userID uuid.UUID, at time.Time) *mfa.LoginToken {
	t.Helper()
	var b mfa.Binding
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	lt := mustGet(mfa.IssueLoginToken(randomHash(t), userID, b, at))(t)
	must(t, s.Repos.MFA.AddLoginToken(testCtx(t), lt))
	return lt
}

func recoveryHashes(t *testing.T) []token.Hash {
	t.Helper()
	_, hashes, err := mfa.NewRecoveryCodes(rand.Reader)
	must(t, err)
	return hashes
}

// DeleteTOTP takes the factor, the recovery codes and the login tokens of
// the user (and nobody else's), and tells whether MFA was on.
func testMFADelete(t *testing.T, s Store) {
	ctx := testCtx(t)
	id, _ := enrolled(t, s, 1)
	other, _ := enrolled(t, s, 1)
	for _, u := range []uuid.UUID{id, other} {
		must(t, s.Repos.MFA.ReplaceRecoveryCodes(ctx, u, recoveryHashes(t), now()))
		addLoginToken(t, s, u, now())
	}
	var was bool
	within(t, s, func(ctx context.Context, r app.Repos) error {
		var err error
		was, err = r.MFA.DeleteTOTP(ctx, id)
		return err
	})
	if !was {
		t.Fatal("DeleteTOTP of a confirmed factor reported none")
	}
	wantErr(t, errOf(s.Repos.MFA.TOTP(ctx, id)), mfa.ErrNotFound, "factor after DeleteTOTP")
	for _, c := range []struct {
		table string
		user  uuid.UUID
		want  int
	}{
		{"mfa_recovery_codes", id, 0}, {"mfa_login_tokens", id, 0},
		{"mfa_recovery_codes", other, mfa.RecoveryCodeCount}, {"mfa_login_tokens", other, 1}, {"mfa_totp", other, 1},
	} {
		if n := count(t, s, `SELECT count(*) FROM `+c.table+` WHERE CAST(user_id AS TEXT) = $1`, c.user.String()); n != c.want {
			t.Errorf("%s of %s: %d rows, want %d", c.table, c.user, n, c.want)
		}
	}
	wantBool(t, false, "DeleteTOTP again")(s.Repos.MFA.DeleteTOTP(ctx, id))
	pending := createUser(t, s)
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, pendingTOTP(t, pending.ID(), now())))
	wantBool(t, false, "DeleteTOTP of a pending factor (MFA was not on)")(s.Repos.MFA.DeleteTOTP(ctx, pending.ID()))
	wantErr(t, errOf(s.Repos.MFA.TOTP(ctx, pending.ID())), mfa.ErrNotFound, "pending factor after DeleteTOTP")
}

// EnabledAmong names exactly the users with a confirmed factor.
func testMFAEnabledAmong(t *testing.T, s Store) {
	ctx := testCtx(t)
	on1, _ := enrolled(t, s, 1)
	on2, _ := enrolled(t, s, 1)
	pending, none := createUser(t, s), createUser(t, s)
	must(t, s.Repos.MFA.PutPendingTOTP(ctx, pendingTOTP(t, pending.ID(), now())))
	got := mustGet(s.Repos.MFA.EnabledAmong(ctx, []uuid.UUID{on1, pending.ID(), none.ID(), on2, on1, uuid.New()}))(t)
	if len(got) != 2 || !got[on1] || !got[on2] {
		t.Fatalf("EnabledAmong = %v, want exactly %s and %s", got, on1, on2)
	}
	if got, err := s.Repos.MFA.EnabledAmong(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("EnabledAmong(nil) = %v, %v", got, err)
	}
	// More ids than one statement takes.
	many := make([]uuid.UUID, 1200)
	for i := range many {
		many[i] = uuid.New()
	}
	many[777] = on2
	if got, err := s.Repos.MFA.EnabledAmong(ctx, many); err != nil || len(got) != 1 || !got[on2] {
		t.Fatalf("EnabledAmong of 1200 ids = %v, %v", got, err)
	}
}

// A recovery code works once, only for its user, and a new set replaces
// the old one.
func testMFARecoveryCodes(t *testing.T, s Store) {
	ctx := testCtx(t)
	id, _ := enrolled(t, s, 1)
	other, _ := enrolled(t, s, 1)
	first := recoveryHashes(t)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.MFA.ReplaceRecoveryCodes(ctx, id, first, now()) })
	must(t, s.Repos.MFA.ReplaceRecoveryCodes(ctx, other, recoveryHashes(t), now()))
	unused := func(want int) {
		t.Helper()
		if n, err := s.Repos.MFA.UnusedRecoveryCodes(ctx, id); err != nil || n != want {
			t.Fatalf("UnusedRecoveryCodes = %d, %v; want %d", n, err, want)
		}
	}
	unused(mfa.RecoveryCodeCount)
	use := func(user uuid.UUID, h token.Hash, want bool) {
		t.Helper()
		wantBool(t, want, "UseRecoveryCode")(s.Repos.MFA.UseRecoveryCode(ctx, user, h, now()))
	}
	use(id, first[3], true)
	unused(mfa.RecoveryCodeCount - 1)
	use(id, first[3], false)    // used
	use(other, first[4], false) // another user's
	use(id, randomHash(t), false)
	unused(mfa.RecoveryCodeCount - 1)

	second := recoveryHashes(t)
	must(t, s.Repos.MFA.ReplaceRecoveryCodes(ctx, id, second, now()))
	unused(mfa.RecoveryCodeCount)
	use(id, first[5], false) // the old set is gone
	use(id, second[5], true)
	if n, err := s.Repos.MFA.UnusedRecoveryCodes(ctx, other); err != nil || n != mfa.RecoveryCodeCount {
		t.Fatalf("the other user's codes: %d, %v", n, err)
	}
}

// Ten callers race to use one recovery code, in transactions as the use
// cases do: exactly one wins.
func testMFAConcurrentRecoveryCode(t *testing.T, s Store) {
	id, _ := enrolled(t, s, 1)
	hashes := recoveryHashes(t)
	must(t, s.Repos.MFA.ReplaceRecoveryCodes(testCtx(t), id, hashes, now()))
	oneWins(t, s, "uses of one recovery code", func(ctx context.Context, r app.Repos, _ int) (bool, error) {
		return r.MFA.UseRecoveryCode(ctx, id, hashes[0], now())
	})
	if n, err := s.Repos.MFA.UnusedRecoveryCodes(testCtx(t), id); err != nil || n != mfa.RecoveryCodeCount-1 {
		t.Fatalf("UnusedRecoveryCodes = %d, %v", n, err)
	}
}

// A login token reads back as stored; wrong codes count up to the limit
// and then it is burned; it is used once, never after its expiry.
func testMFALoginToken(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	wantErr(t, errOf(s.Repos.MFA.LoginToken(ctx, randomHash(t))), mfa.ErrLoginTokenInvalid, "LoginToken of an unknown hash")
	t0 := now()
	lt := addLoginToken(t, s, u.ID(), t0)
	got, err := s.Repos.MFA.LoginToken(ctx, lt.Hash())
	must(t, err)
	if got.Hash() != lt.Hash() || got.UserID() != u.ID() || got.Binding() != lt.Binding() || !got.CreatedAt().Equal(t0) ||
		!got.ExpiresAt().Equal(t0.Add(mfa.LoginTokenTTL)) || got.FailedAttempts() != 0 || got.UsedAt() != nil {
		t.Fatalf("login token read back differs: user=%s created=%v expires=%v failed=%d used=%s",
			got.UserID(), got.CreatedAt(), got.ExpiresAt(), got.FailedAttempts(), fmtTimePtr(got.UsedAt()))
	}
	for i := 1; i <= mfa.MaxCodeAttempts; i++ {
		wantBool(t, true, "wrong code %d: FailLoginToken", i)(s.Repos.MFA.FailLoginToken(ctx, lt.Hash(), mfa.MaxCodeAttempts))
	}
	wantBool(t, false, "wrong code %d: FailLoginToken (burned)", mfa.MaxCodeAttempts+1)(s.Repos.MFA.FailLoginToken(ctx, lt.Hash(), mfa.MaxCodeAttempts))
	wantBool(t, false, "UseLoginToken of a burned token")(s.Repos.MFA.UseLoginToken(ctx, lt.Hash(), now(), mfa.MaxCodeAttempts))
	if got, _ := s.Repos.MFA.LoginToken(ctx, lt.Hash()); got.FailedAttempts() != mfa.MaxCodeAttempts || got.UsedAt() != nil {
		t.Fatalf("burned token: %d failures, used %s", got.FailedAttempts(), fmtTimePtr(got.UsedAt()))
	}

	fresh := addLoginToken(t, s, u.ID(), t0)
	wantBool(t, true, "FailLoginToken of a fresh token")(s.Repos.MFA.FailLoginToken(ctx, fresh.Hash(), mfa.MaxCodeAttempts))
	usedAt := t0.Add(time.Minute)
	var ok bool
	within(t, s, func(ctx context.Context, r app.Repos) error {
		ok, err = r.MFA.UseLoginToken(ctx, fresh.Hash(), usedAt, mfa.MaxCodeAttempts)
		return err
	})
	if !ok {
		t.Fatal("UseLoginToken of a fresh token did nothing")
	}
	wantBool(t, false, "UseLoginToken twice")(s.Repos.MFA.UseLoginToken(ctx, fresh.Hash(), usedAt, mfa.MaxCodeAttempts))
	wantBool(t, false, "FailLoginToken of a used token")(s.Repos.MFA.FailLoginToken(ctx, fresh.Hash(), mfa.MaxCodeAttempts))
	if got, _ := s.Repos.MFA.LoginToken(ctx, fresh.Hash()); got.UsedAt() == nil || !got.UsedAt().Equal(usedAt) || got.FailedAttempts() != 1 {
		t.Fatalf("used token: used %s, %d failures", fmtTimePtr(got.UsedAt()), got.FailedAttempts())
	}

	old := addLoginToken(t, s, u.ID(), t0)
	wantBool(t, false, "UseLoginToken at its expiry")(s.Repos.MFA.UseLoginToken(ctx, old.Hash(), old.ExpiresAt(), mfa.MaxCodeAttempts))
	wantBool(t, true, "UseLoginToken just before its expiry")(s.Repos.MFA.UseLoginToken(ctx, old.Hash(), old.ExpiresAt().Add(-time.Microsecond), mfa.MaxCodeAttempts))
}

// Ten callers race to use one login token: exactly one wins.
func testMFAConcurrentLoginToken(t *testing.T, s Store) {
	lt := addLoginToken(t, s, createUser(t, s).ID(), now())
	oneWins(t, s, "uses of one login token", func(ctx context.Context, r app.Repos, _ int) (bool, error) {
		return r.MFA.UseLoginToken(ctx, lt.Hash(), now(), mfa.MaxCodeAttempts)
	})
}

// Deleting a user deletes their factor, codes and login tokens.
func testMFAUserDelete(t *testing.T, s Store) {
	ctx := testCtx(t)
	id, _ := enrolled(t, s, 1)
	must(t, s.Repos.MFA.ReplaceRecoveryCodes(ctx, id, recoveryHashes(t), now()))
	addLoginToken(t, s, id, now())
	must(t, s.Repos.Users.Delete(ctx, id))
	for _, table := range []string{"mfa_totp", "mfa_recovery_codes", "mfa_login_tokens"} {
		if n := count(t, s, `SELECT count(*) FROM `+table+` WHERE CAST(user_id AS TEXT) = $1`, id.String()); n != 0 {
			t.Errorf("%s: %d rows of a deleted user", table, n)
		}
	}
}

// A session reads back how, and when, it authenticated (amr, auth_time),
// through ByID, ListActive and the bearer check; Update saves a code
// proved in it (a confirmed enrollment upgrades the confirming session).
func testMFASession(t *testing.T, s Store) {
	ctx := testCtx(t)
	u := createUser(t, s)
	created := now().Add(-time.Hour)
	plain := createSession(t, s, u.ID(), created)
	second := mustGet(session.New(uuid.New(), u.ID(), created, 2*time.Hour, "agent", "192.0.2.9"))(t)
	proved := created.Add(time.Minute)
	second.Proved(session.MethodOTP, proved)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Sessions.Create(ctx, second) })
	check := func(where string, got *session.Session, amr []string, authTime time.Time) {
		t.Helper()
		if !slices.Equal(got.AMR(), amr) || !got.AuthTime().Equal(authTime) {
			t.Errorf("%s: session %s amr %v auth_time %v; want %v %v", where, got.ID(), got.AMR(), got.AuthTime(), amr, authTime)
		}
	}
	want := map[uuid.UUID][]string{plain.ID(): {"pwd"}, second.ID(): {"pwd", "otp"}}
	at := map[uuid.UUID]time.Time{plain.ID(): created, second.ID(): proved}
	for id := range want {
		got := mustGet(s.Repos.Sessions.ByID(ctx, id))(t)
		check("ByID", got, want[id], at[id])
		b := mustGet(s.Repos.Sessions.ForBearer(ctx, id))(t)
		check("ForBearer", b.Session, want[id], at[id])
	}
	live := mustGet(s.Repos.Sessions.ListActive(ctx, u.ID(), now()))(t)
	if len(live) != 2 {
		t.Fatalf("ListActive: %d sessions", len(live))
	}
	for _, l := range live {
		check("ListActive", l, want[l.ID()], at[l.ID()])
	}

	// A code proved in the plain session: Update saves it.
	later := now()
	within(t, s, func(ctx context.Context, r app.Repos) error {
		cur, err := r.Sessions.ByIDForChange(ctx, plain.ID())
		if err != nil {
			return err
		}
		cur.Proved(session.MethodOTP, later)
		return r.Sessions.Update(ctx, cur)
	})
	got := mustGet(s.Repos.Sessions.ByID(ctx, plain.ID()))(t)
	check("after Update", got, []string{"pwd", "otp"}, later)
}

// Eight callers race to count a code attempt against one login token
// (each before checking its code): exactly MaxCodeAttempts are counted,
// so no more codes than that are ever checked with one token.
func testMFAConcurrentLoginTokenAttempts(t *testing.T, s Store) {
	lt := addLoginToken(t, s, createUser(t, s).ID(), now())
	var counted atomic.Int32
	race(8, func(int) {
		ok, err := s.Repos.MFA.FailLoginToken(testCtx(t), lt.Hash(), mfa.MaxCodeAttempts)
		if err != nil {
			t.Errorf("FailLoginToken: %v", err)
		}
		if ok {
			counted.Add(1)
		}
	})
	if counted.Load() != mfa.MaxCodeAttempts {
		t.Fatalf("%d of 8 racing attempts were counted; want exactly %d", counted.Load(), mfa.MaxCodeAttempts)
	}
}
