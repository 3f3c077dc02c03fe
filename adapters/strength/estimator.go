// Package strength rates how guessable a password is, for the password
// policy, with zxcvbn
// (github.com/trustelem/zxcvbn): the number of guesses an attacker who
// knows repeats, sequences, keyboard walks, dates and common words needs,
// and which of those patterns make a password easy.
package strength

import (
	"slices"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/domain/user"
	"github.com/trustelem/zxcvbn/match"
	"github.com/trustelem/zxcvbn/matching"
	"github.com/trustelem/zxcvbn/scoring"
)

// Estimator rates passwords. The zero value is ready and safe for
// concurrent use.
type Estimator struct{}

// New returns the estimator.
func New() Estimator { return Estimator{} }

// chunk is the most code points rated in one piece. zxcvbn's matching
// grows faster than the square of the length: a random 128-character
// password costs about 15 times a 64-character one (tens of milliseconds
// more than the argon2id hash the same request is bounded by).
const chunk = 64

// Estimate rates password against the account's own words. A password
// longer than chunk code points is rated in pieces of chunk and counts as
// strong as its strongest piece: repeating or joining weak pieces
// ("password" written 16 times, "ab1" written 42) stays weak, as zxcvbn
// rates it whole, and a strong piece is never made weak by what follows
// it. It errs only towards refusing a long password made of weak pieces,
// and its cost is bounded whatever the length.
func (Estimator) Estimate(password string, userInputs []string) user.GuessEstimate {
	if !utf8.ValidString(password) || password == "" {
		return user.GuessEstimate{}
	}
	runes := []rune(password)
	var est user.GuessEstimate
	for i := 0; i < len(runes); i += chunk {
		piece := string(runes[i:min(i+chunk, len(runes))])
		matches := matching.Omnimatch(piece, userInputs)
		best := scoring.MostGuessableMatchSequence(piece, matches, false)
		est.Guesses = max(est.Guesses, best.Guesses)
		for _, w := range weaknesses(best.Sequence, matches) {
			if !slices.Contains(est.Weaknesses, w) {
				est.Weaknesses = append(est.Weaknesses, w)
			}
		}
	}
	return est
}

// weaknesses names the patterns of the most guessable reading of the
// password, the one covering most characters first. A common password
// that is itself a sequence or a keyboard walk ("123456789", "qwertyuiop")
// is named as that, which says more than "common".
func weaknesses(seq, all []*match.Match) []user.Weakness {
	var order []user.Weakness
	cover := map[user.Weakness]int{}
	for _, m := range seq {
		w, ok := kind(m)
		if !ok {
			continue
		}
		if w == user.WeakCommonWord {
			w = reclass(m, all)
		}
		if _, seen := cover[w]; !seen {
			order = append(order, w)
		}
		cover[w] += m.J - m.I + 1
	}
	// Stable: equal coverage keeps the order in the password.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && cover[order[j]] > cover[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order
}

// kind maps one zxcvbn match to a weakness; brute-forced stretches are none.
func kind(m *match.Match) (user.Weakness, bool) {
	switch m.Pattern {
	case "repeat":
		if utf8.RuneCountInString(m.BaseToken) == 1 {
			return user.WeakRepeatedCharacter, true
		}
		return user.WeakRepeatedPattern, true
	case "sequence":
		return user.WeakSequence, true
	case "spatial":
		return user.WeakKeyboardPattern, true
	case "date":
		return user.WeakDate, true
	case "regex":
		if m.RegexName == "recent_year" {
			return user.WeakDate, true
		}
	case "dictionary":
		if m.DictionaryName == "user_inputs" {
			return user.WeakPersonal, true
		}
		return user.WeakCommonWord, true
	}
	return 0, false
}

// reclass names a dictionary match by a sequence, keyboard or repeat match
// that covers at least three quarters of it, if there is one.
func reclass(d *match.Match, all []*match.Match) user.Weakness {
	n := d.J - d.I + 1
	for _, m := range all {
		if m.Pattern != "sequence" && m.Pattern != "spatial" && m.Pattern != "repeat" {
			continue
		}
		if overlap := min(d.J, m.J) - max(d.I, m.I) + 1; overlap*4 >= n*3 {
			w, _ := kind(m)
			return w
		}
	}
	return user.WeakCommonWord
}
