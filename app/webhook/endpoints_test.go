package webhook_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/admin"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	appwebhook "github.com/gatehouse-auth/gatehouse/app/webhook"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/webhook"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

var actor = admin.Actor{Name: "ops", Meta: app.RequestMeta{IP: "192.0.2.7", UserAgent: "curl"}}

type endpointsFixture struct {
	h        *appwebhook.Endpoints
	store    *mock.MockWebhookRepository
	tx       *mock.MockTxManager
	repos    *apptest.Repos
	resolver *mock.MockWebhookResolver
	audited  *[]audit.Event
}

func newEndpoints(t *testing.T, allowPrivate bool) endpointsFixture {
	ctrl := gomock.NewController(t)
	f := endpointsFixture{store: mock.NewMockWebhookRepository(ctrl), tx: mock.NewMockTxManager(ctrl), repos: apptest.NewRepos(ctrl),
		resolver: mock.NewMockWebhookResolver(ctrl), audited: &[]audit.Event{}}
	f.h = appwebhook.NewEndpoints(appwebhook.EndpointsDeps{
		Webhooks: f.store, Tx: f.tx, Clock: apptest.NewClock(apptest.T0), IDs: &apptest.IDs{}, Random: apptest.NewRand("webhooks"),
		Sealer: apptest.Sealer{}, Resolver: f.resolver, AllowPrivate: appwebhook.AllowPrivate(allowPrivate),
	})
	return f
}

// committing expects one transaction whose audit appends are recorded.
func (f endpointsFixture) committing() {
	f.repos.Audit.EXPECT().Append(gomock.Any(), gomock.Any()).AnyTimes().DoAndReturn(func(_ context.Context, e audit.Event) error {
		*f.audited = append(*f.audited, e)
		return nil
	})
	apptest.ExpectWithin(f.tx, f.repos.App(), 1)
}

func (f endpointsFixture) wantAudited(t *testing.T, typ audit.Type, id uuid.UUID) {
	t.Helper()
	if len(*f.audited) != 1 {
		t.Fatalf("audited %d events, want 1", len(*f.audited))
	}
	if e := (*f.audited)[0]; e.Type != typ || e.Detail["webhook_id"] != id.String() || e.Detail["actor"] != actor.Name {
		t.Fatalf("audit event = %+v, want %s of %s by %s", e, typ, id, actor.Name)
	}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// The secret is shown once, as whsec_ and base64 of 32 bytes; what is
// stored is those bytes sealed under the endpoint's label.
func TestCreateSealsTheSecret(t *testing.T) {
	f := newEndpoints(t, false)
	f.resolver.EXPECT().LookupAddrs(gomock.Any(), "hooks.example.com").Return(addrs("93.184.215.14"), nil)
	var saved webhook.Secrets
	f.repos.Webhooks.EXPECT().Create(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e webhook.Endpoint, s webhook.Secrets) error {
		saved = s
		return nil
	})
	f.committing()
	e, secret, err := f.h.Create(t.Context(), actor, "https://hooks.example.com/in?x=1", []webhook.Type{webhook.UserCreated, webhook.SessionRevoked})
	if err != nil {
		t.Fatal(err)
	}
	if e.URL != "https://hooks.example.com/in?x=1" || len(e.Events) != 2 || !e.CreatedAt.Equal(apptest.T0) {
		t.Errorf("endpoint %+v", e)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret.Reveal(), "whsec_"))
	if !strings.HasPrefix(secret.Reveal(), "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("secret %q: want whsec_ and base64 of 32 bytes", secret.Reveal())
	}
	opened, err := apptest.Sealer{}.Open(saved.Current, "webhook-secret:"+e.ID.String())
	if err != nil || string(opened) != string(key) || saved.Previous != nil {
		t.Errorf("stored %q (%v), want the key sealed", saved.Current, err)
	}
	f.wantAudited(t, audit.WebhookCreated, e.ID)
}

func TestCreateRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		name, url string
		events    []webhook.Type
		field     string
	}{
		{"relative", "/hooks", []webhook.Type{webhook.UserCreated}, "url"},
		{"ftp", "ftp://hooks.example.com/", []webhook.Type{webhook.UserCreated}, "url"},
		{"user info", "https://me:pw@hooks.example.com/", []webhook.Type{webhook.UserCreated}, "url"},
		{"fragment", "https://hooks.example.com/#x", []webhook.Type{webhook.UserCreated}, "url"},
		{"no events", "https://hooks.example.com/", nil, "events"},
		{"unknown event", "https://hooks.example.com/", []webhook.Type{"user.sneezed"}, "events"},
		{"twice", "https://hooks.example.com/", []webhook.Type{webhook.UserCreated, webhook.UserCreated}, "events"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newEndpoints(t, false)
			_, _, err := f.h.Create(t.Context(), actor, c.url, c.events)
			wantField(t, err, c.field)
		})
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindValidation || len(de.Fields) != 1 || de.Fields[0].Field != field {
		t.Fatalf("err = %#v, want a validation error of %s", err, field)
	}
}

// A host that is, or resolves to, an address that is not public is
// refused, unless private addresses are allowed.
func TestCreateRefusesPrivateAddresses(t *testing.T) {
	for _, c := range []struct {
		url      string
		resolves []netip.Addr
	}{
		{"http://127.0.0.1:8080/", nil},
		{"http://[::1]/", nil},
		{"http://10.1.2.3/", nil},
		{"http://169.254.169.254/latest/meta-data", nil},
		{"http://[::ffff:192.168.1.1]/", nil},
		{"http://0.0.0.0/", nil},
		{"https://internal.example.com/", addrs("93.184.215.14", "192.168.0.7")},
		{"https://metadata.example.com/", addrs("fe80::1")},
	} {
		t.Run(c.url, func(t *testing.T) {
			f := newEndpoints(t, false)
			if c.resolves != nil {
				f.resolver.EXPECT().LookupAddrs(gomock.Any(), webhook.Host(c.url)).Return(c.resolves, nil)
			}
			_, _, err := f.h.Create(t.Context(), actor, c.url, []webhook.Type{webhook.UserCreated})
			wantField(t, err, "url")
		})
	}
	t.Run("unresolvable", func(t *testing.T) {
		f := newEndpoints(t, false)
		f.resolver.EXPECT().LookupAddrs(gomock.Any(), "nowhere.invalid").Return(nil, errors.New("no such host"))
		_, _, err := f.h.Create(t.Context(), actor, "https://nowhere.invalid/", []webhook.Type{webhook.UserCreated})
		wantField(t, err, "url")
	})
	t.Run("allowed", func(t *testing.T) {
		f := newEndpoints(t, true)
		f.repos.Webhooks.EXPECT().Create(gomock.Any(), gomock.Any(), gomock.Any())
		f.committing()
		if _, _, err := f.h.Create(t.Context(), actor, "http://127.0.0.1:8080/", []webhook.Type{webhook.UserCreated}); err != nil {
			t.Fatal(err)
		}
	})
}

// The new secret is shown once; the one before moves aside and signs
// beside it for a day.
func TestRotateSecretKeepsThePreviousForADay(t *testing.T) {
	f := newEndpoints(t, false)
	id := uuid.New()
	old := webhook.Secrets{Current: []byte("old"), Previous: []byte("older"), PreviousUntil: apptest.T0}
	f.repos.Webhooks.EXPECT().SecretsForChange(gomock.Any(), id).Return(old, nil)
	var saved webhook.Secrets
	f.repos.Webhooks.EXPECT().SetSecrets(gomock.Any(), id, gomock.Any()).DoAndReturn(func(_ context.Context, _ uuid.UUID, s webhook.Secrets) error {
		saved = s
		return nil
	})
	f.committing()
	secret, err := f.h.RotateSecret(t.Context(), actor, id)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret.Reveal(), "whsec_"))
	opened, err := apptest.Sealer{}.Open(saved.Current, "webhook-secret:"+id.String())
	if err != nil || string(opened) != string(key) {
		t.Errorf("new secret stored as %q", saved.Current)
	}
	if string(saved.Previous) != "old" || !saved.PreviousUntil.Equal(apptest.T0.Add(appwebhook.RotationOverlap)) {
		t.Errorf("previous = %q until %v, want the current one for a day", saved.Previous, saved.PreviousUntil)
	}
	f.wantAudited(t, audit.WebhookSecretRotated, id)
}

func TestRotateOrDeleteUnknown(t *testing.T) {
	f := newEndpoints(t, false)
	id := uuid.New()
	f.repos.Webhooks.EXPECT().SecretsForChange(gomock.Any(), id).Return(webhook.Secrets{}, webhook.ErrNotFound)
	f.repos.Webhooks.EXPECT().Delete(gomock.Any(), id).Return(webhook.ErrNotFound)
	apptest.ExpectWithin(f.tx, f.repos.App(), 2)
	if _, err := f.h.RotateSecret(t.Context(), actor, id); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("RotateSecret: %v", err)
	}
	if err := f.h.Delete(t.Context(), actor, id); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("Delete: %v", err)
	}
}

func TestDeleteAudits(t *testing.T) {
	f := newEndpoints(t, false)
	id := uuid.New()
	f.repos.Webhooks.EXPECT().Delete(gomock.Any(), id)
	f.committing()
	if err := f.h.Delete(t.Context(), actor, id); err != nil {
		t.Fatal(err)
	}
	f.wantAudited(t, audit.WebhookDeleted, id)
}

func TestListShowsRecentFailures(t *testing.T) {
	f := newEndpoints(t, false)
	a, b := webhook.Endpoint{ID: uuid.New()}, webhook.Endpoint{ID: uuid.New()}
	f.store.EXPECT().List(gomock.Any()).Return([]webhook.Endpoint{a, b}, nil)
	fail := webhook.Failure{MessageID: "msg_1", Event: webhook.UserCreated, At: apptest.T0, Error: "500 Internal Server Error"}
	f.store.EXPECT().RecentFailures(gomock.Any(), a.ID, 5).Return([]webhook.Failure{fail}, nil)
	f.store.EXPECT().RecentFailures(gomock.Any(), b.ID, 5).Return(nil, nil)
	vs, err := f.h.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].ID != a.ID || len(vs[0].RecentFailures) != 1 || vs[1].ID != b.ID || len(vs[1].RecentFailures) != 0 {
		t.Errorf("List = %+v", vs)
	}
}
