package main

import (
	"sort"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
)

// testEnvPrefix names the variables the test suite sets for itself (the
// test harness, helper processes): serve does not warn about them.
const testEnvPrefix = envPrefix + "TEST_"

// knownEnv is every variable Config reads, from its env tags, so that the
// list cannot drift from the struct.
func knownEnv() []string {
	var names []string
	for name := range envFields {
		names = append(names, envPrefix+name)
	}
	sort.Strings(names)
	return names
}

// envDefault is the envDefault tag of the Config field read from
// GATEHOUSE_<name>, for commands that read one variable without the whole
// configuration.
func envDefault(name string) string {
	for n, f := range envFields {
		if n == name {
			return f.Tag.Get("envDefault")
		}
	}
	return ""
}

// unknownVar is a GATEHOUSE_ variable that nothing reads, with the known
// name closest to it ("" when none is close).
type unknownVar struct {
	Name, Suggestion string
}

func (u unknownVar) String() string {
	if u.Suggestion == "" {
		return u.Name
	}
	return u.Name + " (did you mean " + u.Suggestion + "?)"
}

// unknownEnv lists, sorted, the GATEHOUSE_ variables of environ that no
// Config field reads and that are not the test suite's (testEnvPrefix):
// most likely typos, whose value is then silently not applied.
func unknownEnv(environ map[string]string) []unknownVar {
	known := knownEnv()
	isKnown := make(map[string]bool, len(known))
	for _, k := range known {
		isKnown[k] = true
	}
	var out []unknownVar
	for name := range environ {
		if !strings.HasPrefix(name, envPrefix) || isKnown[name] || strings.HasPrefix(name, testEnvPrefix) {
			continue
		}
		out = append(out, unknownVar{Name: name, Suggestion: closestName(name, known)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// closestName is the candidate nearest to name by edit distance (over the
// part after the prefix), or "" when even the nearest differs in more than
// half of name's characters: a suggestion that far off would mislead.
func closestName(name string, candidates []string) string {
	bare := strings.TrimPrefix(name, envPrefix)
	best, bestDist := "", -1
	for _, c := range candidates {
		d := levenshtein(bare, strings.TrimPrefix(c, envPrefix))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(1, utf8.RuneCountInString(bare)/2) {
		return ""
	}
	return best
}

// levenshtein is the edit distance between a and b (insertions, deletions
// and substitutions of runes, each costing 1).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// warnUnknownEnv logs one warning naming every unknown GATEHOUSE_
// variable, each with the closest known name, or nothing when there is
// none.
func warnUnknownEnv(log *zap.Logger, unknown []unknownVar) {
	if len(unknown) == 0 {
		return
	}
	parts := make([]string, len(unknown))
	names := make([]string, len(unknown))
	for i, u := range unknown {
		parts[i], names[i] = u.String(), u.Name
	}
	log.Warn("unknown GATEHOUSE_ variables are ignored: "+strings.Join(parts, ", "), zap.Strings("variables", names))
}
