package oauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/client"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"go.uber.org/mock/gomock"
)

var consentOwner = appsession.Principal{UserID: apptest.ID(100), SessionID: apptest.ID(50)}

// The list shows each consent with its client's name; a deleted client's
// consent is listed without one, and stays revocable.
func TestListConsents(t *testing.T) {
	ctrl := gomock.NewController(t)
	grants, clients := mock.NewMockGrantRepository(ctrl), mock.NewMockClientRepository(ctrl)
	h := oauth.NewListConsents(grants, clients)
	kept := &grant.Consent{UserID: apptest.ID(100), ClientID: "app", Scopes: []string{client.ScopeOpenID}, GivenAt: apptest.T0}
	gone := &grant.Consent{UserID: apptest.ID(100), ClientID: "gone", Scopes: []string{client.ScopeOpenID}, GivenAt: apptest.T0.Add(-time.Hour)}
	grants.EXPECT().Consents(gomock.Any(), apptest.ID(100)).Return([]*grant.Consent{kept, gone}, nil)
	clients.EXPECT().ByID(gomock.Any(), "app").Return(rp(), nil)
	clients.EXPECT().ByID(gomock.Any(), "gone").Return(nil, client.ErrNotFound)
	got, err := h.Handle(context.Background(), consentOwner)
	if err != nil || len(got) != 2 || got[0].Consent != kept || got[0].ClientName != "App" || got[1].Consent != gone || got[1].ClientName != "" {
		t.Fatalf("Handle = %+v, %v", got, err)
	}

	// A store failure is no list.
	fail := errors.New("store down")
	grants.EXPECT().Consents(gomock.Any(), apptest.ID(100)).Return([]*grant.Consent{kept}, nil)
	clients.EXPECT().ByID(gomock.Any(), "app").Return(nil, fail)
	if got, err := h.Handle(context.Background(), consentOwner); !errors.Is(err, fail) || got != nil {
		t.Fatalf("Handle = %+v, %v; want the store's error", got, err)
	}
}

// Revoking a consent forgets it, ends the user's grants of that client
// and audits both, in one transaction.
func TestRevokeConsent(t *testing.T) {
	ctrl := gomock.NewController(t)
	tx, repos := mock.NewMockTxManager(ctrl), apptest.NewRepos(ctrl)
	h := oauth.NewRevokeConsent(tx, apptest.NewClock(apptest.T0))
	res := apptest.ExpectWithin(tx, repos.App(), 1)
	gomock.InOrder(
		repos.Grants.EXPECT().DeleteConsent(gomock.Any(), apptest.ID(100), "app").Return(true, nil),
		repos.Sessions.EXPECT().RevokeUserClientGrants(gomock.Any(), apptest.ID(100), "app", apptest.T0).Return(2, nil),
		apptest.ExpectAudit(t, repos.Audit, func(e audit.Event) bool {
			return e.Type == audit.ConsentRevoked && e.UserID == apptest.ID(100) && e.Detail["client_id"] == "app" &&
				e.Detail["sessions_revoked"] == "2" && e.IP == meta.IP && e.At.Equal(apptest.T0)
		}),
	)
	if err := h.Handle(context.Background(), consentOwner, "app", meta); err != nil {
		t.Fatal(err)
	}
	if errs := res.Errs(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("tx returned %v", errs)
	}
}

// No consent to that client is not_found, and nothing else happens.
func TestRevokeConsentUnknown(t *testing.T) {
	ctrl := gomock.NewController(t)
	tx, repos := mock.NewMockTxManager(ctrl), apptest.NewRepos(ctrl)
	h := oauth.NewRevokeConsent(tx, apptest.NewClock(apptest.T0))
	apptest.ExpectWithin(tx, repos.App(), 1)
	repos.Grants.EXPECT().DeleteConsent(gomock.Any(), apptest.ID(100), "other").Return(false, nil)
	if err := h.Handle(context.Background(), consentOwner, "other", meta); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Handle = %v; want not_found", err)
	}
}
