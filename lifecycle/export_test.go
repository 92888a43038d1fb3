package lifecycle

import (
	"context"

	"github.com/alertbridge/alertbridge/store"
)

// AcceptCalls is acceptCalls: the calls of one group commit, merged.
func (s *Service) AcceptCalls(ctx context.Context, tx store.Tx, calls [][]Item) ([][]Result, error) {
	return s.acceptCalls(ctx, tx, calls)
}
