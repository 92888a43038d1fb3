package delivery

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/store"
)

// Requeue puts another job on an existing delivery row, as a job whose
// completion was lost would run again.
func (d *Deliverer) Requeue(ctx context.Context, tx store.Tx, deliveryID int64) error {
	return d.jobs.InsertTx(ctx, tx, river.InsertManyParams{
		Args: Args{DeliveryID: deliveryID}, InsertOpts: &river.InsertOpts{Queue: Queue},
	})
}
