package store

// Queued is how many writes wait for a writer of b, so that a test can
// hold a batch until every write it means to merge is waiting.
func Queued(b *Batcher) int { return len(b.in) }
