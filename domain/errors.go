// Package domain holds what every module of Gatehouse shares: the one error
// model. Entities and value objects live in the sub-packages.
package domain

import (
	"fmt"
	"time"
)

// Kind classifies an error; the HTTP adapter maps each kind to one status.
type Kind uint8

const (
	KindInternal     Kind = iota // 500: a bug; nothing is leaked to the client
	KindBadRequest               // 400: the request or a token in it is unusable
	KindValidation               // 422: well-formed input that breaks a rule
	KindUnauthorized             // 401
	KindForbidden                // 403
	KindNotFound                 // 404
	KindConflict                 // 409
	KindRateLimited              // 429
	KindUnavailable              // 503: infrastructure down or overloaded
)

// FieldError names one rule a field broke.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// Error is the one error type that crosses layers. Code is a stable
// snake_case string and part of the API; Message is for humans.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration

	// origin is the sentinel this error was copied from (nil for a
	// sentinel itself); errors.Is matches on it.
	origin *Error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is match an error with the sentinel it was copied from
// (a copy carrying extra detail, such as fields or retry-after, still
// matches), and with other copies of that sentinel. Two distinct sentinels
// never match, even with the same kind and code (user.ErrNotFound is not
// session.ErrNotFound).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e.root() == t.root()
}

func (e *Error) root() *Error {
	if e.origin != nil {
		return e.origin
	}
	return e
}

// copyOf returns a copy of sentinel that matches it under errors.Is.
func copyOf(sentinel *Error) *Error {
	c := *sentinel
	c.origin = sentinel.root()
	return &c
}

// Sentinels. Codes are part of the public API: never rename one.
var (
	ErrInvalidRequest     = &Error{Kind: KindBadRequest, Code: "invalid_request", Message: "The request could not be understood."}
	ErrInvalidToken       = &Error{Kind: KindBadRequest, Code: "invalid_token", Message: "The token is invalid, expired or already used."}
	ErrInvalidCredentials = &Error{Kind: KindUnauthorized, Code: "invalid_credentials", Message: "The email or password is incorrect."}
	ErrWrongPassword      = &Error{Kind: KindForbidden, Code: "invalid_credentials", Message: "The current password is incorrect."}
	ErrUnauthorized       = &Error{Kind: KindUnauthorized, Code: "unauthorized", Message: "A valid access token is required."}
	ErrRefreshInvalid     = &Error{Kind: KindUnauthorized, Code: "invalid_token", Message: "The refresh token is invalid, expired or revoked."}
	ErrAccountDisabled    = &Error{Kind: KindForbidden, Code: "account_disabled", Message: "The account is disabled."}
	ErrNotFound           = &Error{Kind: KindNotFound, Code: "not_found", Message: "The resource was not found."}
	ErrConflict           = &Error{Kind: KindConflict, Code: "conflict", Message: "The resource already exists."}
	ErrUnavailable        = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The service is temporarily unavailable."}
	ErrOverloaded         = &Error{Kind: KindUnavailable, Code: "overloaded", Message: "The service is busy; retry shortly.", RetryAfter: time.Second}
	ErrRateLimited        = &Error{Kind: KindRateLimited, Code: "rate_limited", Message: "Too many requests; retry later."}
)

// errValidation is the origin of every validation error, so that they all
// match each other under errors.Is whatever their fields.
var errValidation = &Error{Kind: KindValidation, Code: "validation_failed", Message: "The request has invalid fields."}

// Validation builds a 422 validation_failed error from field errors.
func Validation(fields ...FieldError) *Error {
	e := copyOf(errValidation)
	e.Fields = fields
	return e
}

// InvalidRequest is ErrInvalidRequest (400) naming the fields at fault,
// for malformed query parameters such as a cursor or a limit.
func InvalidRequest(fields ...FieldError) *Error {
	e := copyOf(ErrInvalidRequest)
	e.Fields = fields
	return e
}

// RateLimited is ErrRateLimited with the time after which a retry may succeed.
func RateLimited(retryAfter time.Duration) *Error {
	e := copyOf(ErrRateLimited)
	e.RetryAfter = retryAfter
	return e
}

// Unavailable wraps an infrastructure failure so that it maps to 503 while
// keeping the cause for the log.
func Unavailable(cause error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}
