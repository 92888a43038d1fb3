// Package suggest finds the name a misspelling most likely meant, for the
// "did you mean" hints of configuration and rule metadata errors.
package suggest

// Closest returns the entry of known nearest to s, if it is fewer than three
// edits away (a near miss, not a guess); "" otherwise. Ties go to the
// earlier entry, so callers pass known in a stable order.
func Closest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := Distance(s, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
