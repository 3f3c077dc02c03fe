package account

import (
	"context"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// GetUser reads one account.
type GetUser struct{ users app.UserRepository }

// NewGetUser builds the use case. users works outside any transaction.
func NewGetUser(users app.UserRepository) *GetUser {
	app.Require(map[string]any{"UserRepository": users})
	return &GetUser{users: users}
}

// Handle returns the user with id.
func (h *GetUser) Handle(ctx context.Context, id uuid.UUID) (*user.User, error) {
	return h.users.ByID(ctx, id)
}
