package forwarding

import (
	"context"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// ahead is what was read for a delivery together with the others of its batch (those claimed,
// or handed over, at once) before any of them ran: one query for the batch instead of one per
// delivery, for each of the two reads every delivery makes.
type ahead struct {
	read     bool       // false: nothing was read ahead, the delivery reads for itself
	finished bool       // it is in the history already (a late duplicate)
	leadRead bool       // lead was read ahead: the delivery was first in line for its prospect
	lead     *zen7.Lead // its prospect's lead record, nil if it has none
}

// readAhead reads, for ds (each with its turn in its prospect's line, entered already), which
// are in the history and the lead records of their prospects. A lead record is read ahead only
// for a delivery first in line for its prospect: one behind another of its prospect must see
// what that one saves, so it reads when its turn comes. If a read fails, each delivery reads
// for itself.
func (w *Worker) readAhead(ctx context.Context, ds []zen7.Delivery, turns []*turn) []ahead {
	out := make([]ahead, len(ds))
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	var ids []string
	for _, d := range ds {
		if mayBeDuplicate(d) {
			ids = append(ids, d.ID)
		}
	}
	finished, err := w.store.FinishedAmong(ctx, ids)
	if err != nil {
		return out
	}
	var first []zen7.Delivery
	var firstOf []int
	for i, t := range turns {
		if t.prev == nil && ds[i].Kind != zen7.KindChatTonic { // an import reads no lead record
			first, firstOf = append(first, ds[i]), append(firstOf, i)
		}
	}
	leads, err := w.store.LeadsFor(ctx, first)
	if err != nil {
		return out
	}
	for i, d := range ds {
		out[i] = ahead{read: true, finished: finished[d.ID]}
	}
	for k, i := range firstOf {
		out[i].leadRead, out[i].lead = true, leads[k]
	}
	return out
}

// mayBeDuplicate says whether d may be a redelivery of one that finished earlier: Sales'
// retries and duplicates of a notification, or of a Chat-Tonic record, can come after the
// first copy left the outbox.
func mayBeDuplicate(d zen7.Delivery) bool {
	return d.Round == 0 && (d.Kind == zen7.KindNotification || d.Kind == zen7.KindChatTonic)
}
