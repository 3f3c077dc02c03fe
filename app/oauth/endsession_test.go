package oauth_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/app/internal/apptest"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/app/oauth"
	appsession "github.com/gatehouse-auth/gatehouse/app/session"
	"github.com/google/uuid"
	"go.uber.org/mock/gomock"
)

// enders records the sessions End was asked to end.
type enders []uuid.UUID

func (e *enders) End(_ context.Context, p appsession.Principal, _ app.RequestMeta) error {
	*e = append(*e, p.SessionID)
	return nil
}

// TestEndSession: the browser's own session ends at once with its own
// id_token as hint or after the user confirmed, else the user is asked; a
// request without a browser session ends the session an unexpired hint
// names, and nothing otherwise.
func TestEndSession(t *testing.T) {
	s := browserSession(apptest.T0)
	other := uuid.New()
	for _, tc := range []struct {
		name    string
		in      oauth.EndSessionInput
		lookup  bool // the hint's session is looked up
		ask     bool
		wantEnd bool
	}{
		{"own hint", oauth.EndSessionInput{Browser: browserSecret, HintSession: s.ID()}, false, false, true},
		{"own hint, expired", oauth.EndSessionInput{Browser: browserSecret, HintSession: s.ID(), HintLive: false}, false, false, true},
		{"no hint", oauth.EndSessionInput{Browser: browserSecret}, false, true, false},
		{"another session's hint", oauth.EndSessionInput{Browser: browserSecret, HintSession: other, HintLive: true}, false, true, false},
		{"confirmed", oauth.EndSessionInput{Browser: browserSecret, Confirmed: true}, false, false, true},
		{"no browser, live hint", oauth.EndSessionInput{HintSession: s.ID(), HintLive: true}, true, false, true},
		{"no browser, expired hint", oauth.EndSessionInput{HintSession: s.ID()}, false, false, false},
		{"no browser, no hint", oauth.EndSessionInput{Confirmed: true}, false, false, false},
		{"signed-out cookie, live hint", oauth.EndSessionInput{Browser: "stale", HintSession: s.ID(), HintLive: true}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl := gomock.NewController(t)
			sessions := mock.NewMockSessionRepository(ctrl)
			if tc.lookup {
				sessions.EXPECT().ForBearer(gomock.Any(), s.ID()).Return(app.BearerSession{Session: s, User: owner()}, nil)
			}
			var ended enders
			h := oauth.NewEndSession(mock.NewMockClientRepository(ctrl), sessions,
				browsers{browserSecret: {UserID: s.UserID(), SessionID: s.ID(), Session: s}}, &ended)
			ask, err := h.Handle(context.Background(), tc.in)
			if err != nil || ask != tc.ask || (len(ended) == 1) != tc.wantEnd || len(ended) > 1 || tc.wantEnd && ended[0] != s.ID() {
				t.Fatalf("Handle = %v, %v; ended %v", ask, err, ended)
			}
		})
	}
}
