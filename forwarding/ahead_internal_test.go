package forwarding

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// countedReads is a Store that counts the batch reads made through it.
type countedReads struct {
	Store
	finished, leads atomic.Int32
}

func (c *countedReads) FinishedAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	c.finished.Add(1)
	return c.Store.FinishedAmong(ctx, ids)
}

func (c *countedReads) LeadsFor(ctx context.Context, ds []zen7.Delivery) ([]*zen7.Lead, error) {
	c.leads.Add(1)
	return c.Store.LeadsFor(ctx, ds)
}

// TestReadAheadOneReadPerBatch: a batch's history check and lead records are read with one
// query each, against the real store, and its instance once, shared with the batch's pass; a
// delivery behind another of its prospect has its lead record left for its turn, and an
// import has none read.
func TestReadAheadOneReadPerBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outbox := store.NewOutbox(storetest.NewDB(t))
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	d := func(id, prospect string, kind zen7.Kind, round int) zen7.Delivery {
		return zen7.Delivery{ID: id, InstanceID: "i", Kind: kind, Round: round, Prospect: zen7.Prospect{ID: prospect},
			State: zen7.StatePending, CreatedAt: at, SnapshotAt: at, Pending: zen7.Pending{NextAttemptAt: at}}
	}
	// i:old finished earlier; p2 has a lead record.
	old := d("i:old", "p9", zen7.KindNotification, 0)
	if n, err := outbox.Enqueue(ctx, []zen7.Delivery{old}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	old.State, old.FinishedAt = zen7.StateDone, at
	if err := outbox.Finish(ctx, old); err != nil {
		t.Fatal(err)
	}
	p2 := zen7.Lead{InstanceID: "i", ProspectID: "p2", State: zen7.LeadForwarded, LeadID: 42, Email: "p2@example.com", UpdatedAt: at}
	if err := outbox.SaveLead(ctx, p2); err != nil {
		t.Fatal(err)
	}

	batch := []zen7.Delivery{
		d("i:old", "p9", zen7.KindNotification, 0), // a late duplicate of the finished one
		d("i:a", "p1", zen7.KindNotification, 0),
		d("i:b", "p1", zen7.KindNotification, 0), // behind i:a
		d("i:c", "p2", zen7.KindForward, 0),
		d("i:r", "p3", zen7.KindNotification, 1), // a manual retry: no duplicate check
		d("i:t", "p4", zen7.KindChatTonic, 0),
	}
	counted := &countedReads{Store: outbox}
	instances := &countedInstances{reads: map[string]int{}}
	w := NewWorker(WorkerConfig{}, counted, instances, nil, nil, nil, nil)
	turns := w.enter(batch)
	reads := newPassReads(w.instances, w.now)
	got := w.readAhead(ctx, batch, turns, reads)

	if f, l := counted.finished.Load(), counted.leads.Load(); f != 1 || l != 1 {
		t.Errorf("reads: %d history, %d lead records; want one each for the batch", f, l)
	}
	if in, err := reads.instance(ctx, "i"); err != nil || in.ID != "i" || instances.count("i") != 1 {
		t.Errorf("the pass's instance: %+v, %v, after %d reads; want the one read ahead", in, err, instances.count("i"))
	}
	tests := []struct {
		id       string
		finished bool
		leadRead bool
		leadID   int64 // of the lead read, 0: none
	}{
		{id: "i:old", finished: true, leadRead: true},
		{id: "i:a", leadRead: true},
		{id: "i:b"},
		{id: "i:c", leadRead: true, leadID: 42},
		{id: "i:r", leadRead: true},
		{id: "i:t"},
	}
	for i, tt := range tests {
		a := got[i]
		var leadID int64
		if a.lead != nil {
			leadID = a.lead.LeadID
		}
		if !a.read || a.finished != tt.finished || a.leadRead != tt.leadRead || leadID != tt.leadID {
			t.Errorf("%s: read %v, finished %v, lead read %v (lead %d); want finished %v, lead read %v (lead %d)",
				tt.id, a.read, a.finished, a.leadRead, leadID, tt.finished, tt.leadRead, tt.leadID)
		}
	}
	for _, tn := range turns {
		tn.wait()()
	}

	// A failed read leaves each delivery to read for itself.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for i, a := range w.readAhead(cancelled, batch, w.enter(batch), newPassReads(w.instances, w.now)) {
		if a.read || a.leadRead {
			t.Errorf("%s: read ahead with the store out of reach: %+v", batch[i].ID, a)
		}
	}
}
