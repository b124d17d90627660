package extensions_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/extensions/view"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
	"github.com/7targets/zenvia-sales-app/store"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// interleaved is the outbox as the dialog reads it, with the worker's writes made right
// after one of its reads (the at-th), as a worker in another goroutine or process may.
type interleaved struct {
	extensions.Outbox
	at     int
	reads  int
	worker func()
}

func (o *interleaved) Lead(ctx context.Context, instanceID, prospectID string) (zen7.Lead, error) {
	defer o.read()
	return o.Outbox.Lead(ctx, instanceID, prospectID)
}

func (o *interleaved) ProspectDeliveries(ctx context.Context, instanceID, prospectID string, limit int) ([]zen7.Delivery, error) {
	defer o.read()
	return o.Outbox.ProspectDeliveries(ctx, instanceID, prospectID, limit)
}

func (o *interleaved) read() {
	if o.reads++; o.reads == o.at {
		o.worker()
	}
}

// TestButtonWhileTheWorkerFinishes: the dialog of a prospect whose delivery is on its way
// shows it on its way (and reloads itself) or forwarded, wherever among the dialog's reads the
// worker saves the lead record and finishes the delivery; never as not forwarded, which it
// would then keep showing.
func TestButtonWhileTheWorkerFinishes(t *testing.T) {
	t.Parallel()
	st := seventargetsfake.New()
	t.Cleanup(st.Close)
	st.Seed()
	st.AddClient("client", "secret", "user-1")
	assistants, err := seventargets.New(st.APIURL(), st.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	inst := zen7.Instance{ID: "inst-button-1", State: zen7.StateEnabled, Settings: zen7.Settings{
		ClientID: "client", ClientSecret: "secret", UserIdentifier: "user-1", AssistantEmail: seventargetsfake.SeedAssistantEmail}}
	pr := view.ButtonProspect{ID: "prospect-1", FirstName: "Ana", LastName: "Silva", Emails: []string{"ana@example.com"}}

	for _, tt := range []struct {
		name string
		at   int // the read after which the worker writes; 0: before the first, -1: after the last
	}{
		{"before the dialog reads", 0},
		{"after its first read", 1},
		{"after its second read", 2},
		{"after the dialog", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.NewDB(t)
			outbox := store.NewOutbox(db)
			now := time.Now().UTC()
			d := zen7.Delivery{ID: inst.ID + ":notification:1", InstanceID: inst.ID, Kind: zen7.KindNotification,
				Prospect:   zen7.Prospect{ID: pr.ID, FirstName: pr.FirstName, LastName: pr.LastName, Emails: pr.Emails},
				SnapshotAt: now, CreatedAt: now, Pending: zen7.Pending{NextAttemptAt: now}}
			if _, err := outbox.Enqueue(ctx, []zen7.Delivery{d}); err != nil {
				t.Fatal(err)
			}
			// What the worker writes, in its order: the lead record, then the outcome.
			worker := func() {
				lead := zen7.Lead{InstanceID: inst.ID, ProspectID: pr.ID, State: zen7.LeadForwarded, LeadID: 42,
					Email: pr.Emails[0], AssistantEmail: seventargetsfake.SeedAssistantEmail, UpdatedAt: now}
				if err := outbox.SaveLead(ctx, lead); err != nil {
					t.Fatal(err)
				}
				done := d
				done.State, done.Outcome, done.LeadID, done.FinishedAt = zen7.StateDone, zen7.OutcomeCreated, 42, now
				if err := outbox.Finish(ctx, done); err != nil {
					t.Fatal(err)
				}
			}
			reads := &interleaved{Outbox: outbox, at: tt.at, worker: worker}
			if tt.at == 0 {
				worker()
			}
			svc := extensions.NewService(extensions.Deps{Store: store.NewPages(db), Outbox: reads, Assistants: assistants,
				Tokens: extensions.NewTokens([]byte("a signing key of at least 32 bytes!!"), 0), Logger: slog.New(slog.DiscardHandler)})

			p := svc.Button(ctx, inst, "u1", pr, view.English)
			forwarded := p.Lead != nil && p.Lead.State == zen7.LeadForwarded
			if !p.Pending && !forwarded {
				t.Errorf("the dialog shows the prospect neither on its way nor forwarded (pending %t, lead %+v, last %+v)", p.Pending, p.Lead, p.Last)
			}
			if tt.at > 0 && reads.reads < tt.at {
				t.Errorf("the dialog read %d times, the worker was to write after read %d", reads.reads, tt.at)
			}
		})
	}
}
