package admin

import (
	"context"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain"
	"github.com/gatehouse-auth/gatehouse/domain/audit"
	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/google/uuid"
)

// Moving users in and out with their password hashes.

// MaxImportBatch bounds the users of one Import call (one transaction).
const MaxImportBatch = 5000

// ImportRecord is one user arriving with their password hash: a line of
// an import file.
type ImportRecord struct {
	Line          int // where it came from, for the failures
	Email         string
	EmailVerified bool
	PasswordHash  string    // see app.ImportedHashChecker
	CreatedAt     time.Time // zero: now
}

// ImportFailure is a record that was not imported, and why.
type ImportFailure struct {
	Line int
	Err  error
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int
	// Skipped records name an address a user already has (an earlier run
	// of the same import, say), or an earlier record of the batch.
	Skipped  int
	Failures []ImportFailure
}

// Add adds the counts of o to r.
func (r *ImportResult) Add(o ImportResult) {
	r.Created += o.Created
	r.Skipped += o.Skipped
	r.Failures = append(r.Failures, o.Failures...)
}

var errImportBatch = domain.InvalidRequest(domain.FieldError{Field: "users", Code: "too_many", Message: "An import batch holds at most " + strconv.Itoa(MaxImportBatch) + " users."})

// Import stores the users of recs that are valid and whose address no
// user has, with their hashes as they are (it hashes nothing: the first
// login of each rehashes to argon2id), in one transaction with one audit
// event for the batch. An invalid record is a failure, by line, not an
// error; an address already taken is skipped, so a rerun of an import
// resumes it.
//
// One event per batch, not per user: every event appends to the audit
// chain under its one lock, and an event per user would make that chain
// the import's bottleneck and hold back every other audited write for
// the whole import. The batch's event names its lines and counts. Its
// webhook events, a user.created for each user it created, go out in one
// call.
func (h *Users) Import(ctx context.Context, a Actor, recs []ImportRecord) (ImportResult, error) {
	if len(recs) > MaxImportBatch {
		return ImportResult{}, errImportBatch
	}
	var res ImportResult
	now := h.d.Clock.Now()
	us := make([]*user.User, 0, len(recs))
	for _, rec := range recs {
		u, err := h.imported(rec, now)
		if err != nil {
			res.Failures = append(res.Failures, ImportFailure{Line: rec.Line, Err: err})
			continue
		}
		us = append(us, u)
	}
	if len(us) == 0 {
		return res, nil
	}
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		ids, err := r.Users.CreateMissing(ctx, us)
		if err != nil {
			return err
		}
		res.Created, res.Skipped = len(ids), len(us)-len(ids)
		at := h.d.Clock.Now()
		if err := h.publishCreated(ctx, r, us, ids, at); err != nil {
			return err
		}
		return r.Audit.Append(ctx, a.event(audit.AdminUsersImported, uuid.Nil, at, map[string]string{
			"created": strconv.Itoa(res.Created), "skipped": strconv.Itoa(res.Skipped), "failed": strconv.Itoa(len(res.Failures)),
			"first_line": strconv.Itoa(recs[0].Line), "last_line": strconv.Itoa(recs[len(recs)-1].Line),
		}))
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// publishCreated publishes user.created for each of us whose id is in
// created, in one call for the batch (none when it created none).
func (h *Users) publishCreated(ctx context.Context, r app.Repos, us []*user.User, created []uuid.UUID, now time.Time) error {
	if len(created) == 0 {
		return nil
	}
	made := make(map[uuid.UUID]bool, len(created))
	for _, id := range created {
		made[id] = true
	}
	news := make([]*user.User, 0, len(created))
	for _, u := range us {
		if made[u.ID()] {
			news = append(news, u)
		}
	}
	return app.PublishCreated(ctx, r, h.d.IDs, now, news...)
}

var errCreatedInFuture = domain.Validation(domain.FieldError{Field: "created_at", Code: "in_future", Message: "The creation time is in the future."})

// imported is the user rec describes, or why it cannot be one.
func (h *Users) imported(rec ImportRecord, now time.Time) (*user.User, error) {
	email, err := user.ParseEmail(rec.Email)
	if err != nil {
		return nil, err
	}
	if rec.PasswordHash == "" {
		return nil, domain.Validation(domain.FieldError{Field: "password_hash", Code: "required", Message: "The password hash is required."})
	}
	if err := h.d.Hashes.CheckImported(rec.PasswordHash); err != nil {
		return nil, err
	}
	created := rec.CreatedAt.UTC().Truncate(time.Microsecond)
	switch {
	case rec.CreatedAt.IsZero():
		created = now
	case created.After(now):
		return nil, errCreatedInFuture
	}
	u, err := user.New(h.d.IDs.NewID(), email, rec.PasswordHash, created)
	if err != nil {
		return nil, err
	}
	if rec.EmailVerified {
		u.VerifyEmail(created)
	}
	return u, nil
}

// ExportRecord is one user leaving with their password hash: the shape of
// an ImportRecord, so that an export imports again.
type ExportRecord struct {
	Email         string
	EmailVerified bool
	PasswordHash  string // as stored: argon2id PHC, or an imported hash not yet rehashed
	CreatedAt     time.Time
}

// exportPage is how many users one read of Export takes.
const exportPage = 1000

// Export hands fn every user, newest first, a page of exportPage at a
// time, and audits how many it handed out. It stops at fn's first error.
func (h *Users) Export(ctx context.Context, a Actor, fn func(ExportRecord) error) (int, error) {
	n := 0
	var before *app.UserCursor
	for {
		page, err := h.d.Users.List(ctx, app.UserQuery{Before: before, Limit: exportPage})
		if err != nil {
			return n, err
		}
		for _, u := range page {
			if err := fn(ExportRecord{Email: u.Email().String(), EmailVerified: u.Verified(), PasswordHash: u.PasswordHash(), CreatedAt: u.CreatedAt()}); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < exportPage {
			break
		}
		last := page[len(page)-1]
		before = &app.UserCursor{CreatedAt: last.CreatedAt(), ID: last.ID()}
	}
	err := h.d.Tx.Within(ctx, func(ctx context.Context, r app.Repos) error {
		return r.Audit.Append(ctx, a.event(audit.AdminUsersExported, uuid.Nil, h.d.Clock.Now(), map[string]string{"users": strconv.Itoa(n)}))
	})
	return n, err
}
