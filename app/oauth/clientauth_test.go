package oauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/limits"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// TestClientAuth: a public client authenticates with its id alone, never
// with a secret; a confidential one with its secret only. Every failure
// is the same invalid_client, and a failure of a known client is audited
// (an audit that fails does not change the answer); an unknown client is
// not.
func TestClientAuth(t *testing.T) {
	secret, hash := apptest.Secret(t, "client secret")
	conf := &client.Client{ID: "svc", Type: client.Confidential, SecretHash: &hash}
	noSecret := &client.Client{ID: "fresh", Type: client.Confidential}
	public := &client.Client{ID: "spa", Type: client.Public}
	clients := map[string]*client.Client{conf.ID: conf, noSecret.ID: noSecret, public.ID: public}
	for _, tc := range []struct {
		name, id, secret string
		ok, audited      bool
	}{
		{"public without a secret", "spa", "", true, false},
		{"public with a secret", "spa", secret.Reveal(), false, true},
		{"confidential, right secret", "svc", secret.Reveal(), true, false},
		{"confidential, wrong secret", "svc", secret.Reveal()[:len(secret.Reveal())-1] + "x", false, true},
		{"confidential, missing secret", "svc", "", false, true},
		{"confidential, its hash as secret", "svc", string(hash[:]), false, true},
		{"confidential without a secret yet", "fresh", "", false, true},
		{"unknown", "nobody", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			repo, log := mock.NewMockClientRepository(ctrl), mock.NewMockAuditLog(ctrl)
			h := newClientAuth(ctrl, repo, log, true)
			repo.EXPECT().ByID(gomock.Any(), tc.id).DoAndReturn(func(_ context.Context, id string) (*client.Client, error) {
				if c, ok := clients[id]; ok {
					return c, nil
				}
				return nil, client.ErrNotFound
			})
			if tc.audited {
				log.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e audit.Event) error {
					if e.Type != audit.ClientAuthFailed || e.Detail["client_id"] != tc.id || e.UserID != uuid.Nil || e.IP != meta.IP || !e.At.Equal(apptest.T0) {
						t.Errorf("audit %+v", e)
					}
					for _, v := range e.Detail {
						if tc.secret != "" && strings.Contains(v, tc.secret) {
							t.Errorf("the audit holds the presented secret: %+v", e)
						}
					}
					return errors.New("audit down: must not change the answer")
				})
			}
			c, err := h.Handle(context.Background(), tc.id, tc.secret, meta)
			if tc.ok {
				if err != nil || c != clients[tc.id] {
					t.Fatalf("Handle = %v, %v; want the client", c, err)
				}
				return
			}
			if err != grant.ErrInvalidClient || c != nil {
				t.Fatalf("Handle = %v, %v; want invalid_client", c, err)
			}
		})
	}
}

// TestClientAuthLooksUpNoOddID: an empty or overlong client id names no
// client and is not looked up.
func TestClientAuthLooksUpNoOddID(t *testing.T) {
	ctrl := gomock.NewController(t)
	h := newClientAuth(ctrl, mock.NewMockClientRepository(ctrl), mock.NewMockAuditLog(ctrl), true)
	for _, id := range []string{"", strings.Repeat("a", 65)} {
		if c, err := h.Handle(context.Background(), id, "", meta); err != grant.ErrInvalidClient || c != nil {
			t.Fatalf("Handle(%q) = %v, %v", id, c, err)
		}
	}
}

func TestClientAuthStoreFailurePropagates(t *testing.T) {
	ctrl := gomock.NewController(t)
	repo := mock.NewMockClientRepository(ctrl)
	repo.EXPECT().ByID(gomock.Any(), "svc").Return(nil, domain.Unavailable(errors.New("down")))
	h := newClientAuth(ctrl, repo, mock.NewMockAuditLog(ctrl), true)
	if _, err := h.Handle(context.Background(), "svc", "x", meta); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// newClientAuth builds the use case over the mocks, its per-client limit
// allowing every request, or refusing every one.
func newClientAuth(ctrl *gomock.Controller, repo *mock.MockClientRepository, log *mock.MockAuditLog, allow bool) *oauth.ClientAuth {
	rl := mock.NewMockRateLimiter(ctrl)
	rl.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).Return(allow, time.Minute, nil).AnyTimes()
	return oauth.NewClientAuth(repo, log, apptest.NewClock(apptest.T0), limits.NewGuard(rl, limits.DefaultPolicy()))
}

// A client id over its limit is refused before any lookup: a guessed
// secret costs the guesser, not the store.
func TestClientAuthCountsPerClient(t *testing.T) {
	ctrl := gomock.NewController(t)
	h := newClientAuth(ctrl, mock.NewMockClientRepository(ctrl), mock.NewMockAuditLog(ctrl), false)
	if _, err := h.Handle(context.Background(), "svc", "x", meta); !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("err = %v", err)
	}
}
