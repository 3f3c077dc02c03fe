package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gatehouse-auth/gatehouse/app"
	"github.com/gatehouse-auth/gatehouse/domain/grant"
	"github.com/gatehouse-auth/gatehouse/domain/token"
	"github.com/gatehouse-auth/gatehouse/internal/storable"
	"github.com/google/uuid"
)

const (
	requestColumns = `id, client_id, redirect_uri, scopes, state, nonce, code_challenge, force_login, force_consent, has_max_age, max_age, created_at, expires_at`
	codeColumns    = `code_hash, client_id, redirect_uri, scopes, nonce, code_challenge, session_id, user_id, auth_time, amr, created_at, expires_at, used_at, grant_id`
	consentColumns = `user_id, client_id, scopes, given_at`
)

// ConsentsSQL reads the consents of user $1, newest first (the primary
// key's prefix finds them).
const ConsentsSQL = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = $1 ORDER BY given_at DESC, client_id`

// Sweep statements: at most $2 requests, and codes, that expired before
// $1 (indexes authorization_requests_expires, authorization_codes_expires).
const (
	SweepRequestsSQL = `DELETE FROM authorization_requests WHERE id IN (
		SELECT id FROM authorization_requests WHERE expires_at < $1 LIMIT $2)`
	SweepCodesSQL = `DELETE FROM authorization_codes WHERE code_hash IN (
		SELECT code_hash FROM authorization_codes WHERE expires_at < $1 LIMIT $2)`
)

// Grants keeps the authorization endpoint's pending requests
// (authorization_requests), codes by the hash of their secret
// (authorization_codes) and consents (consents), scope lists as JSON
// arrays. A request's max_age is kept in whole seconds.
type Grants struct {
	DB      DB
	Dialect Dialect
}

// CreateRequest stores a pending request.
func (g Grants) CreateRequest(ctx context.Context, r *grant.Request) error {
	_, err := g.DB.Exec(ctx, `INSERT INTO authorization_requests (`+requestColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		r.ID, r.ClientID, r.RedirectURI, jsonList(r.Scopes), r.State, r.Nonce, r.CodeChallenge,
		r.ForceLogin, r.ForceConsent, r.HasMaxAge, int64(r.MaxAge/time.Second), r.CreatedAt, r.ExpiresAt)
	return err
}

// Request finds a pending request, or gives grant.ErrNotFound.
func (g Grants) Request(ctx context.Context, id uuid.UUID) (*grant.Request, error) {
	var (
		r      grant.Request
		scopes string
		maxAge int64
	)
	err := g.DB.QueryRow(ctx, `SELECT `+requestColumns+` FROM authorization_requests WHERE id = $1`, id).
		Scan(&r.ID, &r.ClientID, &r.RedirectURI, &scopes, &r.State, &r.Nonce, &r.CodeChallenge, &r.ForceLogin, &r.ForceConsent, &r.HasMaxAge, &maxAge, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return nil, notFound(err, grant.ErrNotFound)
	}
	r.MaxAge = time.Duration(maxAge) * time.Second
	if r.Scopes, err = parseList(scopes); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeleteRequest removes a pending request; an unknown one is no error.
func (g Grants) DeleteRequest(ctx context.Context, id uuid.UUID) error {
	_, err := g.DB.Exec(ctx, `DELETE FROM authorization_requests WHERE id = $1`, id)
	return err
}

// CreateCode stores a code as it is (unused, for a new one).
func (g Grants) CreateCode(ctx context.Context, c *grant.Code) error {
	_, err := g.DB.Exec(ctx, `INSERT INTO authorization_codes (`+codeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		c.Hash[:], c.ClientID, c.RedirectURI, jsonList(c.Scopes), c.Nonce, c.CodeChallenge, c.SessionID, c.UserID,
		c.AuthTime, storable.Methods(c.AMR), c.CreatedAt, c.ExpiresAt, c.UsedAt, NullUUID(c.GrantID))
	return err
}

// CodeForChange finds a code by hash for a change, or gives
// grant.ErrNotFound. Bound to a transaction, of transactions presenting
// one code the later ones wait for the first (a row lock, or the single
// writer) and then see its used time and grant.
func (g Grants) CodeForChange(ctx context.Context, hash token.Hash) (*grant.Code, error) {
	var (
		c           grant.Code
		raw         []byte
		scopes, amr string
		grantID     uuid.NullUUID
	)
	err := g.DB.QueryRow(ctx, `SELECT `+codeColumns+` FROM authorization_codes WHERE code_hash = $1`+g.Dialect.ForUpdate, hash[:]).
		Scan(&raw, &c.ClientID, &c.RedirectURI, &scopes, &c.Nonce, &c.CodeChallenge, &c.SessionID, &c.UserID,
			&c.AuthTime, &amr, &c.CreatedAt, &c.ExpiresAt, &c.UsedAt, &grantID)
	if err != nil {
		return nil, notFound(err, grant.ErrNotFound)
	}
	copy(c.Hash[:], raw)
	c.AMR, c.GrantID = storable.ParseMethods(amr), grantID.UUID
	if c.Scopes, err = parseList(scopes); err != nil {
		return nil, err
	}
	return &c, nil
}

// markCodeUsedSQL records the redemption of code $1 at $2 by grant $3.
const markCodeUsedSQL = `UPDATE authorization_codes SET used_at = $2, grant_id = $3 WHERE code_hash = $1`

// MarkCodeUsed records the redemption of a code (grantID uuid.Nil: none),
// or gives grant.ErrNotFound.
func (g Grants) MarkCodeUsed(ctx context.Context, hash token.Hash, at time.Time, grantID uuid.UUID) error {
	return execOne(ctx, g.DB, grant.ErrNotFound, markCodeUsedSQL, hash[:], at, NullUUID(grantID))
}

// Redeem stores the grant a code's redemption made (as Sessions.Create),
// its refresh token (as Sessions.AddRefreshToken) and the code marked used
// by it, as one Pipeline: one round trip where the store sends statements
// together. The code's update comes last and returns its row, so an
// unknown code is grant.ErrNotFound (and the transaction's failure).
func (g Grants) Redeem(ctx context.Context, rd app.CodeRedemption) error {
	writes := []Stmt{insertSession(rd.Grant)}
	if rd.RefreshToken != nil {
		writes = append(writes, addRefreshToken(*rd.RefreshToken))
	}
	var marked []byte
	_, err := g.DB.Pipeline(ctx, writes, Stmt{markCodeUsedSQL + ` RETURNING code_hash`, []any{rd.Code[:], rd.At, NullUUID(rd.Grant.ID())}}, &marked)
	return notFound(err, grant.ErrNotFound)
}

// Consent finds what userID allowed clientID (primary key), or gives
// grant.ErrNotFound.
func (g Grants) Consent(ctx context.Context, userID uuid.UUID, clientID string) (*grant.Consent, error) {
	c, err := scanConsent(g.DB.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	return c, notFound(err, grant.ErrNotFound)
}

// ConsentForChange is Consent with the row locked (Dialect.ForUpdate)
// until the transaction ends.
func (g Grants) ConsentForChange(ctx context.Context, userID uuid.UUID, clientID string) (*grant.Consent, error) {
	c, err := scanConsent(g.DB.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 AND client_id = $2`+g.Dialect.ForUpdate, userID, clientID))
	return c, notFound(err, grant.ErrNotFound)
}

// Consents returns every consent userID gave, newest first.
func (g Grants) Consents(ctx context.Context, userID uuid.UUID) ([]*grant.Consent, error) {
	return All(ctx, g.DB, scanConsent, ConsentsSQL, userID)
}

func scanConsent(row Row) (*grant.Consent, error) {
	var (
		c      grant.Consent
		scopes string
	)
	if err := row.Scan(&c.UserID, &c.ClientID, &scopes, &c.GivenAt); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = parseList(scopes); err != nil {
		return nil, err
	}
	return &c, nil
}

// SaveConsent stores c, replacing the user's consent to that client: one
// statement, so that racing saves leave one of them whole.
func (g Grants) SaveConsent(ctx context.Context, c *grant.Consent) error {
	_, err := g.DB.Exec(ctx, `INSERT INTO consents (`+consentColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, given_at = EXCLUDED.given_at`,
		c.UserID, c.ClientID, jsonList(c.Scopes), c.GivenAt)
	return err
}

// DeleteConsent removes the user's consent to a client and reports
// whether there was one.
func (g Grants) DeleteConsent(ctx context.Context, userID uuid.UUID, clientID string) (bool, error) {
	return changed(g.DB.Exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID))
}

// Sweep deletes requests and codes that expired before before, at most
// RetentionBatch of each per call (the next call goes on), each statement
// on its own, and returns how many it deleted.
func (g Grants) Sweep(ctx context.Context, before time.Time) (int, error) {
	var total int
	for _, q := range []string{SweepRequestsSQL, SweepCodesSQL} {
		n, err := g.DB.Exec(ctx, q, before, RetentionBatch)
		total += int(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// parseList decodes a JSON array of strings (jsonList's).
func parseList(raw string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return nil, err
	}
	return l, nil
}
