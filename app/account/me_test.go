package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse/app/account"
	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"go.uber.org/mock/gomock"
)

func TestGetUser(t *testing.T) {
	ctrl := gomock.NewController(t)
	users := mock.NewMockUserRepository(ctrl)
	h := account.NewGetUser(users)
	u := storedUser("me@example.com", true, true)
	users.EXPECT().ByID(gomock.Any(), u.ID()).Return(u, nil)
	if got, err := h.Handle(context.Background(), u.ID()); err != nil || got != u {
		t.Fatalf("Handle = %v, %v", got, err)
	}
	users.EXPECT().ByID(gomock.Any(), gomock.Any()).Return(nil, user.ErrNotFound)
	if _, err := h.Handle(context.Background(), u.ID()); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}
