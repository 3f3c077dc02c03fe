package apptest

import (
	"context"
	"sync"

	"github.com/gatehouse-auth/gatehouse/app/mock"
	"github.com/gatehouse-auth/gatehouse/domain/mfa"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Store holds the users and second factors a test seeds, so that looking
// them up needs no expectation. Until a test seeds something, every lookup
// goes to the strict mock; after, the lookups are served from the seed
// (an unknown user gives user.ErrNotFound, a missing factor
// mfa.ErrNotFound) and only the calls that are the behaviour (Create,
// Update, the factor's changes, ...) stay expectations. A lookup returns
// the seeded value itself, so the test sees what the use case did to it.
type Store struct {
	mu      sync.Mutex
	seeded  bool
	users   map[uuid.UUID]*user.User
	factors map[uuid.UUID]*mfa.TOTP
	locked  []uuid.UUID
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{users: map[uuid.UUID]*user.User{}, factors: map[uuid.UUID]*mfa.TOTP{}}
}

// Seed stores the users, replacing any with the same id. With none, it
// turns the lookups over to the store as it is (empty, say: nobody found).
func (s *Store) Seed(us ...*user.User) { seed(s, s.users, us, (*user.User).ID) }

// SeedTOTP stores the factors, one a user.
func (s *Store) SeedTOTP(fs ...*mfa.TOTP) { seed(s, s.factors, fs, (*mfa.TOTP).UserID) }

func seed[V any](s *Store, m map[uuid.UUID]*V, vs []*V, key func(*V) uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seeded = true
	for _, v := range vs {
		m[key(v)] = v
	}
}

// ForgetTOTP removes the user's factor.
func (s *Store) ForgetTOTP(userID uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.factors, userID)
}

// Locked lists the users read for change so far, in order.
func (s *Store) Locked() []uuid.UUID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uuid.UUID(nil), s.locked...)
}

func (s *Store) serving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seeded
}

func (s *Store) byID(id uuid.UUID) (*user.User, error) {
	return find(s, s.users, id, user.ErrNotFound)
}

func (s *Store) byEmail(email user.Email) (*user.User, error) {
	s.mu.Lock()
	var id uuid.UUID
	for _, u := range s.users {
		if u.Email() == email {
			id = u.ID()
		}
	}
	s.mu.Unlock()
	return s.byID(id)
}

func (s *Store) totp(userID uuid.UUID) (*mfa.TOTP, error) {
	return find(s, s.factors, userID, mfa.ErrNotFound)
}

func find[V any](s *Store, m map[uuid.UUID]*V, id uuid.UUID, notFound error) (*V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := m[id]; ok {
		return v, nil
	}
	return nil, notFound
}

// Users is a strict UserRepository mock whose lookups a seeded Store
// serves. Outside a transaction it serves ByID, ByEmail and ForLogin (the
// seeded factors say whether MFA is on); bound to one (Repos) it serves
// ByIDForChange, ByEmail and ForLogin. The other lookup still
// goes to the mock, so reading a user to change it without the lock, or
// locking outside a transaction, fails a test that did not expect it.
type Users struct {
	*mock.MockUserRepository
	store *Store
	inTx  bool
}

func (u *Users) ByID(ctx context.Context, id uuid.UUID) (*user.User, error) {
	if u.inTx || !u.store.serving() {
		return u.MockUserRepository.ByID(ctx, id)
	}
	return u.store.byID(id)
}

func (u *Users) ByIDForChange(ctx context.Context, id uuid.UUID) (*user.User, error) {
	if !u.inTx || !u.store.serving() {
		return u.MockUserRepository.ByIDForChange(ctx, id)
	}
	u.store.mu.Lock()
	u.store.locked = append(u.store.locked, id)
	u.store.mu.Unlock()
	return u.store.byID(id)
}

func (u *Users) ByEmail(ctx context.Context, email user.Email) (*user.User, error) {
	if !u.store.serving() {
		return u.MockUserRepository.ByEmail(ctx, email)
	}
	return u.store.byEmail(email)
}

func (u *Users) ForLogin(ctx context.Context, email user.Email) (*user.User, bool, error) {
	if !u.store.serving() {
		return u.MockUserRepository.ForLogin(ctx, email)
	}
	found, err := u.store.byEmail(email)
	if err != nil {
		return nil, false, err
	}
	f, err := u.store.totp(found.ID())
	return found, err == nil && f.Enabled(), nil
}

// Factors is a strict MFARepository mock whose TOTP lookup a seeded Store
// serves.
type Factors struct {
	*mock.MockMFARepository
	store *Store
}

func (f *Factors) TOTP(ctx context.Context, userID uuid.UUID) (*mfa.TOTP, error) {
	if !f.store.serving() {
		return f.MockMFARepository.TOTP(ctx, userID)
	}
	return f.store.totp(userID)
}
