package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/signingkey"
	"github.com/google/uuid"
)

func init() {
	register("Clients/CreateReadUpdateDelete", testClients)
	register("Clients/SecretChangesAlone", testClientSecret)
	register("Clients/ConcurrentCreateOneID", testClientConcurrentCreate)
}

// newClient is a valid client with a fresh id, every field set.
func newClient(t testing.TB, typ client.Type, at time.Time) *client.Client {
	t.Helper()
	name, redirects := "App "+uuid.NewString()[:8], []string{"https://app.example.com/cb", "http://127.0.0.1/cb"}
	c, err := client.New(uuid.NewString(), client.Settings{
		Name: &name, Type: &typ, RedirectURIs: &redirects,
		PostLogoutRedirectURIs: &[]string{"https://app.example.com/bye"},
	}, at)
	must(t, err)
	if typ == client.Confidential {
		must(t, c.SetSecret(randomHash(t), at))
	}
	return c
}

func diffClient(got, want *client.Client) error {
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("client differs:\n got %+v\nwant %+v", got, want)
	}
	return nil
}

func wantClient(t *testing.T, r app.ClientRepository, want *client.Client) {
	t.Helper()
	got, err := r.ByID(testCtx(t), want.ID)
	must(t, err)
	must(t, diffClient(got, want))
}

func testClients(t *testing.T, s Store) {
	ctx := testCtx(t)
	store := s.Repos.Clients
	t0 := now()
	web := newClient(t, client.Confidential, t0)
	spa := newClient(t, client.Public, t0) // same time: the id orders them
	svc := newClient(t, client.Confidential, t0.Add(time.Second))
	svc.GrantTypes, svc.RedirectURIs, svc.PostLogoutRedirectURIs = []client.Grant{client.ClientCredentials}, nil, nil
	must(t, store.Create(ctx, web))
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Clients.Create(ctx, spa) })
	must(t, store.Create(ctx, svc))
	svc.RedirectURIs, svc.PostLogoutRedirectURIs = []string{}, []string{} // read back as empty lists
	for _, c := range []*client.Client{web, spa, svc} {
		wantClient(t, store, c)
	}
	if _, err := store.ByID(ctx, uuid.NewString()); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("ByID(unknown) = %v, want client.ErrNotFound", err)
	}

	// List: oldest first, then by id.
	first, second := web, spa
	if spa.ID < web.ID {
		first, second = spa, web
	}
	all, err := store.List(ctx)
	must(t, err)
	var own []*client.Client
	for _, c := range all {
		if slices.Contains([]string{web.ID, spa.ID, svc.ID}, c.ID) {
			own = append(own, c)
		}
	}
	for i, want := range []*client.Client{first, second, svc} {
		if i >= len(own) {
			t.Fatalf("List has %d of this case's clients, want 3", len(own))
		}
		must(t, diffClient(own[i], want))
	}

	// Update saves every setting; a rolled-back one nothing.
	t1 := t0.Add(time.Minute)
	spa.Name, spa.RedirectURIs, spa.PostLogoutRedirectURIs = "Renamed", []string{"com.example.app:/cb"}, []string{}
	spa.Scopes, spa.Consent, spa.IDTokenAlg, spa.UpdatedAt = []string{client.ScopeOpenID}, true, signingkey.EdDSA, t1
	must(t, store.Update(ctx, spa))
	wantClient(t, store, spa)
	boom := errors.New("boom")
	changed := *web
	changed.Name = "never saved"
	if err := s.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		must(t, r.Clients.Update(ctx, &changed))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Within = %v, want fn's error", err)
	}
	wantClient(t, store, web)

	// Delete.
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Clients.Delete(ctx, web.ID) })
	if _, err := store.ByID(ctx, web.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("ByID of a deleted client = %v, want client.ErrNotFound", err)
	}
	for what, err := range map[string]error{
		"Delete":    store.Delete(ctx, web.ID),
		"Update":    store.Update(ctx, web),
		"SetSecret": store.SetSecret(ctx, web.ID, randomHash(t), t1),
	} {
		if !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("%s of a deleted client = %v, want client.ErrNotFound", what, err)
		}
	}
	wantClient(t, store, spa)
}

// SetSecret changes the secret and nothing else, Update everything but
// the secret: a rotation and a change racing it both hold. A public
// client takes no secret.
func testClientSecret(t *testing.T, s Store) {
	ctx := testCtx(t)
	store := s.Repos.Clients
	t0 := now()
	c := newClient(t, client.Confidential, t0)
	must(t, store.Create(ctx, c))
	stale := *c
	h, t1 := randomHash(t), t0.Add(time.Minute)
	within(t, s, func(ctx context.Context, r app.Repos) error { return r.Clients.SetSecret(ctx, c.ID, h, t1) })
	c.SecretHash, c.UpdatedAt = &h, t1
	wantClient(t, store, c)
	// A change made from a copy read before the rotation keeps the new secret.
	stale.Name, stale.UpdatedAt = "Changed", t1.Add(time.Second)
	must(t, store.Update(ctx, &stale))
	c.Name, c.UpdatedAt = stale.Name, stale.UpdatedAt
	wantClient(t, store, c)

	pub := newClient(t, client.Public, t0)
	must(t, store.Create(ctx, pub))
	if err := store.SetSecret(ctx, pub.ID, randomHash(t), t1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("SetSecret of a public client = %v, want client.ErrNotFound", err)
	}
	wantClient(t, store, pub)
}

// Of concurrent creates of one id, exactly one succeeds; the others give
// client.ErrExists without aborting their transactions.
func testClientConcurrentCreate(t *testing.T, s Store) {
	id := uuid.NewString()
	oneWins(t, s, "creates of one client id", func(ctx context.Context, r app.Repos, i int) (bool, error) {
		c := newClient(t, client.Public, now())
		c.ID = id
		err := r.Clients.Create(ctx, c)
		if errors.Is(err, client.ErrExists) {
			// The transaction goes on: the refusal aborted nothing.
			_, err = r.Clients.ByID(ctx, id)
			return false, err
		}
		return err == nil, err
	})
}
