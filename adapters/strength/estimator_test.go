package strength_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/adapters/strength"
	"github.com/gatehouse-auth/gatehouse/domain/user"
)

func TestEstimateGuessablePasswords(t *testing.T) {
	t.Parallel()
	inputs := []string{"alice.smith@example.com", "alice.smith", "alice", "smith"}
	for _, c := range []struct {
		pw   string
		want user.Weakness // the first weakness named
	}{
		{"aaaaaaaaaaaaaaaa", user.WeakRepeatedCharacter},
		{"1234567890123456", user.WeakSequence},
		{"passwordpassword", user.WeakRepeatedPattern},
		{"qwertyuiopasdfghjkl", user.WeakKeyboardPattern},
		{"password1234567890", user.WeakSequence},
		{"abcabcabcabcabcabc", user.WeakRepeatedPattern},
		{"alice.smith@example.com1", user.WeakPersonal},
		{"sunshineprincess", user.WeakCommonWord},
		{strings.Repeat("gl1mmer-", 16), user.WeakRepeatedPattern}, // 128 code points: the longest allowed
		{strings.Repeat("ab1", 42), user.WeakRepeatedPattern},      // weak pieces joined stay weak
	} {
		got := strength.New().Estimate(c.pw, inputs)
		if got.Guesses >= user.MinPasswordGuesses {
			t.Errorf("%q: %g guesses, want fewer than %g", c.pw, got.Guesses, user.MinPasswordGuesses)
		}
		if len(got.Weaknesses) == 0 || got.Weaknesses[0] != c.want {
			t.Errorf("%q: weaknesses %v, want %v first", c.pw, got.Weaknesses, c.want)
		}
	}
	if got := strength.New().Estimate("password1234567890", nil); !slices.Contains(got.Weaknesses, user.WeakCommonWord) {
		t.Errorf("password1234567890: weaknesses %v, want the common word named too", got.Weaknesses)
	}
}

func TestEstimateStrongPasswords(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{
		"correct horse battery staple",
		"mauve-otter-silent-kayak",
		"Tr0ub4dor&3xyzabc",
		"zqjxkvbnmwrtypslfh",
		// Longer than a piece: a weak pattern after a strong piece does
		// not make it weak.
		"mauve-otter-silent-kayak plus four more unrelated words: fjord, quill" + strings.Repeat("a", 58),
	} {
		if got := strength.New().Estimate(pw, []string{"alice@example.com", "alice"}); got.Guesses < user.MinPasswordGuesses {
			t.Errorf("%q: %g guesses (%v), want at least %g", pw, got.Guesses, got.Weaknesses, user.MinPasswordGuesses)
		}
	}
}

func TestEstimateInvalidOrEmpty(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"", "\xff\xfe-not-utf8-at-all-xyz"} {
		if got := strength.New().Estimate(pw, nil); got.Guesses != 0 {
			t.Errorf("%q: %g guesses, want 0", pw, got.Guesses)
		}
	}
}
