package forwarding

import (
	"context"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// ahead is what was read for a delivery together with the others of its batch (those claimed,
// or handed over, at once) before any of them ran: one query for the batch instead of one per
// delivery, for each of the two reads every delivery makes.
type ahead struct {
	read     bool          // false: nothing was read ahead, the delivery reads for itself
	finished bool          // it is in the history already (a late duplicate)
	leadRead bool          // lead was read ahead: the delivery was first in line for its prospect
	lead     *zen7.Lead    // its prospect's lead record, nil if it has none
	instance *instanceRead // its instance, read with the batch (nil: not read, or the read failed)
}

// readAhead reads, for ds (each with its turn in its prospect's line, entered already), which
// are in the history, the lead records of their prospects and their instances, together with
// what other batches ask for meanwhile (the aheads group): under load the intake hands
// deliveries over a few at a time, and they share these reads as their writes share commits.
// The instances read are shared with the batch's pass (reads). A lead record is read ahead
// only for a delivery first in line for its prospect: one behind another of its prospect must
// see what that one saves, so it reads when its turn comes. If a read fails, each delivery
// reads for itself.
func (w *Worker) readAhead(ctx context.Context, ds []zen7.Delivery, turns []*turn, reads *passReads) []ahead {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	reqs := make([]aheadReq, len(ds))
	for i, d := range ds {
		reqs[i] = aheadReq{d: d, first: turns[i].prev == nil && d.Kind != zen7.KindChatTonic} // an import reads no lead record
	}
	out := w.aheads.doAll(ctx, reqs)
	for i, d := range ds {
		if out[i].instance != nil {
			reads.seed(d.InstanceID, out[i].instance)
		}
	}
	return out
}

// aheadReq asks to read ahead for d; first says it is first in its prospect's line.
type aheadReq struct {
	d     zen7.Delivery
	first bool
}

// readAheadFor reads ahead for reqs: with one read of the history, one of the lead records and
// one of their instances, all started after every request (so that a pass may use those, as
// passReads requires).
func (w *Worker) readAheadFor(ctx context.Context, reqs []aheadReq) []ahead {
	out := make([]ahead, len(reqs))
	var instanceIDs []string
	seen := map[string]bool{}
	for _, r := range reqs {
		if !seen[r.d.InstanceID] {
			seen[r.d.InstanceID] = true
			instanceIDs = append(instanceIDs, r.d.InstanceID)
		}
	}
	insts := w.instances.readAll(ctx, instanceIDs, w.now())
	for i, r := range reqs {
		out[i].instance = insts[r.d.InstanceID]
	}
	var ids []string
	var first []zen7.Delivery
	var firstOf []int
	for i, r := range reqs {
		if mayBeDuplicate(r.d) {
			ids = append(ids, r.d.ID)
		}
		if r.first {
			first, firstOf = append(first, r.d), append(firstOf, i)
		}
	}
	finished, err := w.store.FinishedAmong(ctx, ids)
	if err != nil {
		return out
	}
	leads, err := w.store.LeadsFor(ctx, first)
	if err != nil {
		return out
	}
	for i, r := range reqs {
		out[i].read, out[i].finished = true, finished[r.d.ID]
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
