package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"go.uber.org/mock/gomock"
)

type clientsFixture struct {
	h     *admin.Clients
	store *mock.MockClientRepository
	tx    *mock.MockTxManager
	repos *apptest.Repos
	// audited collects the events the transactions appended.
	audited *[]audit.Event
}

func newClients(t *testing.T) clientsFixture {
	ctrl := gomock.NewController(t)
	f := clientsFixture{store: mock.NewMockClientRepository(ctrl), tx: mock.NewMockTxManager(ctrl), repos: apptest.NewRepos(ctrl), audited: &[]audit.Event{}}
	f.h = admin.NewClients(admin.ClientsDeps{Clients: f.store, Tx: f.tx, Clock: apptest.NewClock(apptest.T0), IDs: &apptest.IDs{}, Random: apptest.NewRand("clients")})
	return f
}

// committing expects one transaction whose audit appends are recorded.
func (f clientsFixture) committing() *apptest.TxResults {
	f.repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(_ context.Context, e audit.Event) error {
		*f.audited = append(*f.audited, e)
		return nil
	})
	return apptest.ExpectWithin(f.tx, f.repos.App(), 1)
}

func (f clientsFixture) wantAudited(t *testing.T, typ audit.Type, id string) {
	t.Helper()
	if len(*f.audited) != 1 {
		t.Fatalf("audited %d events, want 1", len(*f.audited))
	}
	e := (*f.audited)[0]
	if e.Type != typ || e.Detail["client_id"] != id || e.Detail["actor"] != actor.Name || e.IP != actor.Meta.IP {
		t.Fatalf("audit event = %+v, want %s of %s by %s", e, typ, id, actor.Name)
	}
}

func webApp(typ client.Type) client.Settings {
	return client.Settings{Name: ptr("Wiki"), Type: ptr(typ), RedirectURIs: &[]string{"https://wiki.example.com/cb"}}
}

func storedClient(t *testing.T, typ client.Type) *client.Client {
	t.Helper()
	c, err := client.New("c-1", webApp(typ), apptest.T0)
	if err != nil {
		t.Fatal(err)
	}
	if typ == client.Confidential {
		if err := c.SetSecret(token.HashOf("ghc_old"), apptest.T0); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCreateClientKeepsOnlyTheSecretsHash(t *testing.T) {
	f := newClients(t)
	var saved *client.Client
	f.repos.Clients.EXPECT().Create(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, c *client.Client) error {
		saved = c
		return nil
	})
	f.committing()
	c, secret, err := f.h.Create(context.Background(), actor, webApp(client.Confidential))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret.Reveal(), client.SecretPrefix) || len(secret.Reveal()) != len(client.SecretPrefix)+token.EncodedLen {
		t.Fatalf("secret %q: want %s and 32 random bytes", secret.Reveal(), client.SecretPrefix)
	}
	if saved != c || c.SecretHash == nil || *c.SecretHash != token.HashOf(secret) || c.ID != apptest.ID(1).String() || !c.CreatedAt.Equal(apptest.T0) {
		t.Fatalf("stored %+v, returned %+v", saved, c)
	}
	f.wantAudited(t, audit.ClientCreated, c.ID)
}

func TestCreatePublicClientHasNoSecret(t *testing.T) {
	f := newClients(t)
	f.repos.Clients.EXPECT().Create(gomock.Any(), gomock.Any())
	f.committing()
	c, secret, err := f.h.Create(context.Background(), actor, webApp(client.Public))
	if err != nil || secret != "" || c.SecretHash != nil {
		t.Fatalf("Create = %+v, %q, %v", c, secret.Reveal(), err)
	}
}

func TestCreateRefusedStoresNothing(t *testing.T) {
	f := newClients(t)
	s := webApp(client.Public)
	s.RedirectURIs = &[]string{"http://wiki.example.com/cb"}
	_, _, err := f.h.Create(context.Background(), actor, s)
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation {
		t.Fatalf("err = %v, want a validation error", err)
	}
}

func TestUpdateClient(t *testing.T) {
	f := newClients(t)
	c := storedClient(t, client.Confidential)
	hash := *c.SecretHash
	f.repos.Clients.EXPECT().ByID(gomock.Any(), "c-1").Return(c, nil)
	f.repos.Clients.EXPECT().Update(gomock.Any(), c)
	f.committing()
	got, err := f.h.Update(context.Background(), actor, "c-1", client.Settings{Consent: ptr(true)})
	if err != nil || !got.Consent || *got.SecretHash != hash {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	f.wantAudited(t, audit.ClientChanged, "c-1")
}

func TestUpdateRefusedSavesNothing(t *testing.T) {
	f := newClients(t)
	f.repos.Clients.EXPECT().ByID(gomock.Any(), "c-1").Return(storedClient(t, client.Public), nil)
	res := f.committing()
	_, err := f.h.Update(context.Background(), actor, "c-1", client.Settings{GrantTypes: &[]client.Grant{client.ClientCredentials}})
	if err == nil || res.Errs()[0] == nil || len(*f.audited) != 0 {
		t.Fatalf("Update = %v (transaction %v, audited %v): want refused and rolled back", err, res.Errs(), *f.audited)
	}
}

func TestRotateSecret(t *testing.T) {
	f := newClients(t)
	f.repos.Clients.EXPECT().ByID(gomock.Any(), "c-1").Return(storedClient(t, client.Confidential), nil)
	var hash token.Hash
	f.repos.Clients.EXPECT().SetSecret(gomock.Any(), "c-1", gomock.Any(), apptest.T0).DoAndReturn(func(_ context.Context, _ string, h token.Hash, _ any) error {
		hash = h
		return nil
	})
	f.committing()
	secret, err := f.h.RotateSecret(context.Background(), actor, "c-1")
	if err != nil || hash != token.HashOf(secret) || hash == token.HashOf("ghc_old") {
		t.Fatalf("RotateSecret = %q, %v; stored hash %x", secret.Reveal(), err, hash)
	}
	f.wantAudited(t, audit.ClientSecretRotated, "c-1")
}

func TestRotateSecretOfPublicClient(t *testing.T) {
	f := newClients(t)
	f.repos.Clients.EXPECT().ByID(gomock.Any(), "c-1").Return(storedClient(t, client.Public), nil)
	f.committing()
	if _, err := f.h.RotateSecret(context.Background(), actor, "c-1"); !errors.Is(err, client.ErrPublic) {
		t.Fatalf("err = %v, want client.ErrPublic", err)
	}
}

func TestDeleteClient(t *testing.T) {
	f := newClients(t)
	f.repos.Clients.EXPECT().Delete(gomock.Any(), "c-1")
	// Its grants end with it.
	f.repos.Sessions.EXPECT().RevokeClientGrants(gomock.Any(), "c-1", gomock.Any()).Return(3, nil)
	f.committing()
	if err := f.h.Delete(context.Background(), actor, "c-1"); err != nil {
		t.Fatal(err)
	}
	f.wantAudited(t, audit.ClientDeleted, "c-1")
}

func TestUnknownClient(t *testing.T) {
	f := newClients(t)
	f.repos.Clients.EXPECT().Delete(gomock.Any(), "gone").Return(client.ErrNotFound)
	f.committing()
	if err := f.h.Delete(context.Background(), actor, "gone"); !errors.Is(err, client.ErrNotFound) || len(*f.audited) != 0 {
		t.Fatalf("Delete = %v, audited %v", err, *f.audited)
	}
	// An id longer than any client's is looked up nowhere.
	long := strings.Repeat("x", 65)
	if _, err := f.h.Get(context.Background(), long); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Get = %v", err)
	}
	if _, err := f.h.RotateSecret(context.Background(), actor, long); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("RotateSecret = %v", err)
	}
}
