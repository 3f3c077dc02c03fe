package admin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

const bcryptHash = "$2b$10$abcdefghijklmnopqrstuuNqGj3WcXjq8ZbXtwlfmXyBnZfPRIj6W"

var errUnknownFormat = domain.Validation(domain.FieldError{Field: "password_hash", Code: "unsupported_hash_format", Message: "Accepted: bcrypt, ..."})

// A hash given instead of a password is checked and stored as it is:
// nothing is hashed, no policy applies, no mail goes out.
func TestCreateWithAPasswordHashStoresItAsItIs(t *testing.T) {
	f := newUsers(t)
	f.hashes.EXPECT().CheckImported(bcryptHash).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	var created *user.User
	f.Repos.Users.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, u *user.User) error {
		created = u
		return nil
	})
	f.Repos.Published(apptest.Events(apptest.ID(1), webhook.UserCreated))
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUserCreated, apptest.ID(1), func(e audit.Event) {
		if e.Detail["password_hash_imported"] != "true" || e.Detail["invited"] != "false" {
			t.Errorf("audit detail %v, want an imported hash and no invitation", e.Detail)
		}
	}))
	v, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "Ada@Example.com", PasswordHash: bcryptHash})
	if err != nil {
		t.Fatal(err)
	}
	if created.PasswordHash() != bcryptHash || v.User.PasswordHash() != bcryptHash {
		t.Fatalf("stored hash %q, want the imported one", created.PasswordHash())
	}
}

func TestCreateRefusesAnUnknownHashOrBoth(t *testing.T) {
	f := newUsers(t) // nothing stored: a strict mock fails on any call
	f.hashes.EXPECT().CheckImported("md5:abc").Return(errUnknownFormat)
	if _, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "ada@example.com", PasswordHash: "md5:abc"}); !errors.Is(err, errUnknownFormat) {
		t.Fatalf("Create(unknown hash) = %v, want the checker's error", err)
	}
	_, err := f.h.Create(context.Background(), actor, admin.CreateInput{Email: "ada@example.com", PasswordHash: bcryptHash, Password: "correct horse battery staple"})
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || de.Fields[0].Field != "password_hash" {
		t.Fatalf("Create(password and hash) = %v, want a validation error on password_hash", err)
	}
}

// A batch: invalid records fail by line before the transaction; the valid
// ones go to CreateMissing in one transaction with one audit event that
// counts what it did.
func TestImportBatch(t *testing.T) {
	f := newUsers(t)
	past := apptest.T0.Add(-48 * time.Hour)
	f.hashes.EXPECT().CheckImported(bcryptHash).Return(nil).Times(4)
	f.hashes.EXPECT().CheckImported("nope").Return(errUnknownFormat)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Users.EXPECT().CreateMissing(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, us []*user.User) ([]uuid.UUID, error) {
		if len(us) != 3 {
			t.Fatalf("CreateMissing got %d users, want the 3 valid ones", len(us))
		}
		if u := us[0]; u.Email().String() != "a@example.com" || !u.Verified() || !u.CreatedAt().Equal(past) || u.PasswordHash() != bcryptHash {
			t.Errorf("first user %s verified=%v created=%v hash=%q", u.Email(), u.Verified(), u.CreatedAt(), u.PasswordHash())
		}
		if u := us[1]; u.Verified() || !u.CreatedAt().Equal(apptest.T0) {
			t.Errorf("second user verified=%v created=%v; want unverified, created now", u.Verified(), u.CreatedAt())
		}
		return []uuid.UUID{us[0].ID(), us[2].ID()}, nil // the second one's address was taken
	})
	// One call for the batch: a user.created for each user it created.
	f.Repos.Events.EXPECT().Publish(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, es ...webhook.Event) error {
		var got []string
		for _, e := range es {
			if e.Type != webhook.UserCreated || e.UserID.String() != e.Data.User.ID || !e.At.Equal(apptest.T0) || e.Data.User.MFAEnabled || e.Data.Session != nil {
				t.Errorf("event %+v, want a user.created at T0", e)
			}
			got = append(got, e.Data.User.Email)
		}
		if !slices.Equal(got, []string{"a@example.com", "f@example.com"}) || es[0].ID == es[1].ID {
			t.Errorf("published user.created of %v (ids %s, %s), want the created a@ and f@ with ids of their own", got, es[0].ID, es[1].ID)
		}
		return nil
	})
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUsersImported, uuid.Nil, func(e audit.Event) {
		want := map[string]string{"created": "2", "skipped": "1", "failed": "4", "first_line": "1", "last_line": "7"}
		for k, v := range want {
			if e.Detail[k] != v {
				t.Errorf("audit detail %s = %q, want %q", k, e.Detail[k], v)
			}
		}
	}))
	res, err := f.h.Import(context.Background(), actor, []admin.ImportRecord{
		{Line: 1, Email: "A@example.com", EmailVerified: true, PasswordHash: bcryptHash, CreatedAt: past},
		{Line: 2, Email: "b@example.com", PasswordHash: bcryptHash},
		{Line: 3, Email: "not an address", PasswordHash: bcryptHash},
		{Line: 4, Email: "c@example.com", PasswordHash: "nope"},
		{Line: 5, Email: "d@example.com"},
		{Line: 6, Email: "e@example.com", PasswordHash: bcryptHash, CreatedAt: apptest.T0.Add(time.Hour)},
		{Line: 7, Email: "f@example.com", PasswordHash: bcryptHash, CreatedAt: past},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 2 || res.Skipped != 1 || len(res.Failures) != 4 {
		t.Fatalf("Import = %+v, want 2 created, 1 skipped, 4 failures", res)
	}
	for i, line := range []int{3, 4, 5, 6} {
		if res.Failures[i].Line != line || res.Failures[i].Err == nil {
			t.Errorf("failure %d = %+v, want line %d with its reason", i, res.Failures[i], line)
		}
	}
}

// A full batch publishes its user.created events in one call, one event a
// created user; a batch that creates nobody publishes nothing (strict
// mock).
func TestImportPublishesOneCallForTheBatch(t *testing.T) {
	for _, created := range []bool{true, false} {
		f := newUsers(t)
		recs := make([]admin.ImportRecord, admin.MaxImportBatch)
		for i := range recs {
			recs[i] = admin.ImportRecord{Line: i + 1, Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: bcryptHash}
		}
		f.hashes.EXPECT().CheckImported(bcryptHash).Return(nil).Times(len(recs))
		apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
		var want []uuid.UUID
		f.Repos.Users.EXPECT().CreateMissing(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, us []*user.User) ([]uuid.UUID, error) {
			for _, u := range us {
				if created {
					want = append(want, u.ID())
				}
			}
			return want, nil
		})
		if created {
			f.Repos.Events.EXPECT().Publish(gomock.Any(), gomock.Any()).Times(1).DoAndReturn(func(_ context.Context, es ...webhook.Event) error {
				got := make([]uuid.UUID, len(es))
				for i, e := range es {
					if e.Type != webhook.UserCreated {
						t.Errorf("event %d is %s, want user.created", i, e.Type)
					}
					got[i] = e.UserID
				}
				if !slices.Equal(got, want) {
					t.Errorf("published %d events, want one for each of the %d created users", len(got), len(want))
				}
				return nil
			})
		}
		f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).Return(nil)
		res, err := f.h.Import(context.Background(), actor, recs)
		if err != nil || res.Created != len(want) {
			t.Fatalf("Import = %+v, %v", res.Created, err)
		}
	}
}

func TestImportRefusesAnOversizedBatch(t *testing.T) {
	f := newUsers(t)
	if _, err := f.h.Import(context.Background(), actor, make([]admin.ImportRecord, admin.MaxImportBatch+1)); !errors.Is(err, domain.ErrInvalidRequest) {
		t.Fatalf("Import(too many) = %v, want invalid_request", err)
	}
}

// A batch whose transaction fails reports the failure, not counts.
func TestImportBatchFailureIsAnError(t *testing.T) {
	f := newUsers(t)
	f.hashes.EXPECT().CheckImported(bcryptHash).Return(nil)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	down := domain.Unavailable(errors.New("db down"))
	f.Repos.Users.EXPECT().CreateMissing(gomock.Any(), gomock.Any()).Return(nil, down)
	if _, err := f.h.Import(context.Background(), actor, []admin.ImportRecord{{Line: 1, Email: "a@example.com", PasswordHash: bcryptHash}}); !errors.Is(err, down) {
		t.Fatalf("Import = %v, want the store's error", err)
	}
}

// Export pages through every user and audits how many left.
func TestExportPagesThroughEveryUser(t *testing.T) {
	f := newUsers(t)
	first := make([]*user.User, 1000)
	for i := range first {
		first[i] = stored(uint64(i+1), true)
	}
	last := first[len(first)-1]
	gomock.InOrder(
		f.Users.EXPECT().List(gomock.Any(), app.UserQuery{Limit: 1000}).Return(first, nil),
		f.Users.EXPECT().List(gomock.Any(), app.UserQuery{Before: &app.UserCursor{CreatedAt: last.CreatedAt(), ID: last.ID()}, Limit: 1000}).Return([]*user.User{stored(2000, false)}, nil),
	)
	apptest.ExpectWithin(f.Tx, f.Repos.App(), 1)
	f.Repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(actorEvent(t, audit.AdminUsersExported, uuid.Nil, func(e audit.Event) {
		if e.Detail["users"] != "1001" {
			t.Errorf("audit detail %v, want 1001 users", e.Detail)
		}
	}))
	var got []admin.ExportRecord
	n, err := f.h.Export(context.Background(), actor, func(r admin.ExportRecord) error {
		got = append(got, r)
		return nil
	})
	if err != nil || n != 1001 || len(got) != 1001 {
		t.Fatalf("Export = %d, %v (%d records), want 1001", n, err, len(got))
	}
	if r := got[0]; r.Email != "owner@example.com" || !r.EmailVerified || r.PasswordHash != "$argon2id$stored" || !r.CreatedAt.Equal(first[0].CreatedAt()) {
		t.Fatalf("first record %+v", r)
	}
}
