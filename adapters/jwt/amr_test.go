package jwt_test

import (
	"context"
	"slices"
	"testing"
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
