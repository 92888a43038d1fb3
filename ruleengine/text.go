package ruleengine

// truncate cuts s to at most n characters (runes, not bytes, so a title in
// any script is cut at a character boundary).
func truncate(s string, n int) string {
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}
