package domain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/domain"
)

func TestErrorIsMatchesKindAndCode(t *testing.T) {
	rl := domain.RateLimited(5 * time.Second)
	if !errors.Is(rl, domain.ErrRateLimited) {
		t.Fatal("RateLimited(5s) does not match ErrRateLimited")
	}
	if rl == domain.ErrRateLimited {
		t.Fatal("RateLimited returned the sentinel itself; it must be a copy")
	}
	if rl.RetryAfter != 5*time.Second || domain.ErrRateLimited.RetryAfter != 0 {
		t.Fatalf("retry-after: copy %v, sentinel %v", rl.RetryAfter, domain.ErrRateLimited.RetryAfter)
	}
	wrapped := fmt.Errorf("ctx: %w", rl)
	var de *domain.Error
	if !errors.As(wrapped, &de) || de.RetryAfter != 5*time.Second {
		t.Fatalf("errors.As through a wrap lost the detail: %v", de)
	}
	if !errors.Is(wrapped, domain.ErrRateLimited) {
		t.Fatal("wrapped copy does not match")
	}

	// Same code, different kind: distinct answers.
	if errors.Is(domain.ErrWrongPassword, domain.ErrInvalidCredentials) {
		t.Error("ErrWrongPassword (403) matches ErrInvalidCredentials (401)")
	}
	if errors.Is(domain.ErrRefreshInvalid, domain.ErrInvalidToken) {
		t.Error("ErrRefreshInvalid (401) matches ErrInvalidToken (400)")
	}
	if errors.Is(domain.ErrUnauthorized, domain.ErrInvalidCredentials) {
		t.Error("different codes match")
	}
	if plain := errors.New(domain.ErrRateLimited.Error()); domain.ErrRateLimited.Is(plain) {
		t.Error("a plain error with the same text matches")
	}

	// Same kind and code, different sentinels: distinct errors.
	a := &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "a"}
	b := &domain.Error{Kind: domain.KindNotFound, Code: "not_found", Message: "b"}
	if errors.Is(a, b) || errors.Is(fmt.Errorf("w: %w", a), b) {
		t.Error("two sentinels with the same kind and code match")
	}
	if errors.Is(a, domain.ErrNotFound) {
		t.Error("domain.ErrNotFound matches another not_found sentinel")
	}
}

func TestValidation(t *testing.T) {
	f1 := domain.FieldError{Field: "email", Code: "invalid_email", Message: "m"}
	f2 := domain.FieldError{Field: "password", Code: "password_too_short", Message: "m"}
	e := domain.Validation(f1, f2)
	if e.Kind != domain.KindValidation || e.Code != "validation_failed" {
		t.Fatalf("kind %v code %q", e.Kind, e.Code)
	}
	if len(e.Fields) != 2 || e.Fields[0] != f1 || e.Fields[1] != f2 {
		t.Fatalf("fields %+v", e.Fields)
	}
	if !errors.Is(e, domain.Validation()) {
		t.Fatal("validation errors with different fields must match each other")
	}
	if e.Error() != "validation_failed: The request has invalid fields." {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestUnavailableWrapsCause(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	err := domain.Unavailable(cause)
	if !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, cause) {
		t.Fatalf("Unavailable(%v) = %v: lost a link", cause, err)
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindUnavailable {
		t.Fatalf("errors.As kind = %v", de)
	}
	if errors.Is(err, domain.ErrOverloaded) {
		t.Fatal("unavailable matches overloaded")
	}
}

func TestSentinelCodesAreStable(t *testing.T) {
	for _, c := range []struct {
		err  *domain.Error
		kind domain.Kind
		code string
	}{
		{domain.ErrInvalidRequest, domain.KindBadRequest, "invalid_request"},
		{domain.ErrInvalidToken, domain.KindBadRequest, "invalid_token"},
		{domain.ErrInvalidCredentials, domain.KindUnauthorized, "invalid_credentials"},
		{domain.ErrWrongPassword, domain.KindForbidden, "invalid_credentials"},
		{domain.ErrUnauthorized, domain.KindUnauthorized, "unauthorized"},
		{domain.ErrRefreshInvalid, domain.KindUnauthorized, "invalid_token"},
		{domain.ErrAccountDisabled, domain.KindForbidden, "account_disabled"},
		{domain.ErrNotFound, domain.KindNotFound, "not_found"},
		{domain.ErrConflict, domain.KindConflict, "conflict"},
		{domain.ErrUnavailable, domain.KindUnavailable, "unavailable"},
		{domain.ErrOverloaded, domain.KindUnavailable, "overloaded"},
		{domain.ErrRateLimited, domain.KindRateLimited, "rate_limited"},
	} {
		if c.err.Kind != c.kind || c.err.Code != c.code {
			t.Errorf("%s: kind %v code %q, want %v %q", c.code, c.err.Kind, c.err.Code, c.kind, c.code)
		}
	}
	if domain.ErrOverloaded.RetryAfter <= 0 {
		t.Error("ErrOverloaded has no Retry-After")
	}
}
