package jwt_test

import (
	"context"
	"slices"
	"testing"
	"time"
)

// amr (RFC 8176) goes into the token as given and comes back from Verify,
// so services can demand the second factor.
func TestAMRRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, amr := range [][]string{{"pwd"}, {"pwd", "otp"}} {
		in := sampleClaims()
		in.AMR = amr
		signed, _, err := f.tokens.Issue(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := segment(t, signed, 1)["amr"].([]any)
		if len(raw) != len(amr) {
			t.Fatalf("amr claim %v, want %v", raw, amr)
		}
		for i := range amr {
			if raw[i] != amr[i] {
				t.Fatalf("amr claim %v, want %v", raw, amr)
			}
		}
		got, err := f.tokens.Verify(context.Background(), signed)
		if err != nil || !slices.Equal(got.AMR, amr) {
			t.Fatalf("Verify = %v, %v; want amr %v", got.AMR, err, amr)
		}
	}
}

// auth_time (OpenID Connect) goes into the token in whole seconds and
// comes back from Verify; a token without one verifies with a zero time.
func TestAuthTimeRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	in := sampleClaims()
	in.AuthTime = at
	signed, claims, err := f.tokens.Issue(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := at.Truncate(time.Second)
	if raw, _ := segment(t, signed, 1)["auth_time"].(float64); int64(raw) != want.Unix() || !claims.AuthTime.Equal(want) {
		t.Fatalf("auth_time claim %v (returned %v), want %d", raw, claims.AuthTime, want.Unix())
	}
	got, err := f.tokens.Verify(context.Background(), signed)
	if err != nil || !got.AuthTime.Equal(want) {
		t.Fatalf("Verify = %v, %v; want auth_time %v", got.AuthTime, err, want)
	}

	in.AuthTime = time.Time{}
	signed, _, err = f.tokens.Issue(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := segment(t, signed, 1)["auth_time"]; ok {
		t.Fatal("a zero auth_time was written")
	}
	if got, err := f.tokens.Verify(context.Background(), signed); err != nil || !got.AuthTime.IsZero() {
		t.Fatalf("Verify = %v, %v; want no auth_time", got.AuthTime, err)
	}
}
