package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
)

// BenchmarkCommandCost measures what one driver command of each kind the worker sends costs the
// store, with a small outbox and with a backlog: a find and an update by _id alone (FerretDB v1
// pushes them down to an index lookup), an update guarded by another field as the claim's is
// (FerretDB reads and decodes every entry to filter it), and an insert of one document.
// docs/BENCHMARKS.md records the figures; run with
//
//	go test ./store -run '^$' -bench CommandCost -benchtime 300x -count 3
func BenchmarkCommandCost(b *testing.B) {
	for _, waiting := range []int{10, 5000} {
		o, db := newOutbox(b)
		ctx := context.Background()
		for i := 0; i < waiting; i += 500 {
			var ds []zen7.Delivery
			for j := i; j < min(i+500, waiting); j++ {
				ds = append(ds, pending(fmt.Sprintf("d%d", j), "inst", fmt.Sprintf("p%d", j), outboxT0))
			}
			mustEnqueue(b, o, ds...)
		}
		outbox, inserts := store.Collection(db, "outbox"), store.Collection(db, "bench")
		id := func(i int) bson.D { return bson.D{{Key: "_id", Value: fmt.Sprintf("d%d", i%waiting)}} }
		inserted := 0 // across the runs Go makes of each benchmark, so every insert is new
		set := func(i int) bson.D { return bson.D{{Key: "$set", Value: bson.D{{Key: "owner", Value: fmt.Sprint(i)}}}} }
		for _, bc := range []struct {
			name string
			run  func(i int) error
		}{
			{"find by _id", func(i int) error { return outbox.FindOne(ctx, id(i)).Err() }},
			{"update by _id", func(i int) error { _, err := outbox.UpdateOne(ctx, id(i), set(i)); return err }},
			{"update by _id and claims", func(i int) error {
				f := append(id(i), bson.E{Key: "claims", Value: bson.D{{Key: "$lt", Value: 1 << 20}}})
				_, err := outbox.UpdateOne(ctx, f, set(i))
				return err
			}},
			{"insert one", func(int) error {
				inserted++
				_, err := inserts.InsertOne(ctx, bson.D{{Key: "_id", Value: inserted}})
				return err
			}},
		} {
			b.Run(fmt.Sprintf("%s/%d waiting", bc.name, waiting), func(b *testing.B) {
				for i := range b.N {
					if err := bc.run(i); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDueAmongLeased measures the worker's due query (Outbox.Due) when most of the
// entries already due are leased, as those a worker runs or claimed ahead are: the query skips
// them to find the few it returns. docs/BENCHMARKS.md records the figures; run with
//
//	go test ./store -run '^$' -bench DueAmongLeased -benchtime 300x -count 3
func BenchmarkDueAmongLeased(b *testing.B) {
	for _, leased := range []int{64, 512} {
		o, _ := newOutbox(b)
		ctx := context.Background()
		var ds []zen7.Delivery
		for i := range leased + 16 {
			ds = append(ds, pending(fmt.Sprintf("d%d", i), "inst", fmt.Sprintf("p%d", i), outboxT0.Add(time.Duration(i)*time.Millisecond)))
		}
		mustEnqueue(b, o, ds...)
		now := outboxT0.Add(time.Hour)
		if claimed, err := o.ClaimMany(ctx, ds[:leased], "bench", now, now.Add(time.Hour)); err != nil || len(claimed) != leased {
			b.Fatalf("ClaimMany = %d, %v; want %d", len(claimed), err, leased)
		}
		b.Run(fmt.Sprintf("%d leased, 16 due", leased), func(b *testing.B) {
			for range b.N {
				due, err := o.Due(ctx, now, 128)
				if err != nil || len(due) != 16 {
					b.Fatalf("Due = %d, %v; want 16", len(due), err)
				}
			}
		})
	}
}

// BenchmarkDueExceptBusyInstances measures the worker's due query when most of a backlog is of
// instances the worker leaves out (those with their share in flight): the query skips their
// entries to find the others'. docs/BENCHMARKS.md records the figures; run with
//
//	go test ./store -run '^$' -bench DueExceptBusyInstances -benchtime 100x -count 3
func BenchmarkDueExceptBusyInstances(b *testing.B) {
	const backlog, instances = 4000, 10
	o, _ := newOutbox(b)
	ctx := context.Background()
	var ds []zen7.Delivery
	for i := range backlog {
		ds = append(ds, pending(fmt.Sprintf("d%d", i), fmt.Sprintf("inst%d", i%instances), fmt.Sprintf("p%d", i), outboxT0.Add(time.Duration(i)*time.Millisecond)))
	}
	mustEnqueue(b, o, ds...)
	now := outboxT0.Add(time.Hour)
	var busy []string
	for i := range instances - 1 {
		busy = append(busy, fmt.Sprintf("inst%d", i))
	}
	b.Run(fmt.Sprintf("%d due, all but one instance left out", backlog), func(b *testing.B) {
		for range b.N {
			due, err := o.Due(ctx, now, 128, busy...)
			if err != nil || len(due) != 128 {
				b.Fatalf("Due = %d, %v; want 128", len(due), err)
			}
		}
	})
}

// BenchmarkOutboxStats measures the outbox's depth and oldest entry (Outbox.Stats, read by the
// worker every 5 s) with a backlog, through the driver and read from the SQLite file.
// docs/BENCHMARKS.md records the figures; run with
//
//	go test ./store -run '^$' -bench OutboxStats -benchtime 20x -count 3
func BenchmarkOutboxStats(b *testing.B) {
	const backlog = 4000
	o, _ := newOutbox(b)
	ctx := context.Background()
	var ds []zen7.Delivery
	for i := range backlog {
		ds = append(ds, pending(fmt.Sprintf("d%d", i), fmt.Sprintf("inst%d", i%10), fmt.Sprintf("p%d", i), outboxT0.Add(time.Duration(i)*time.Millisecond)))
	}
	mustEnqueue(b, o, ds...)
	for _, read := range []struct {
		name  string
		stats func(context.Context) (int, time.Time, error)
	}{{"through the driver", o.StatsQuery}, {"from the file", o.StatsDirect}} {
		b.Run(fmt.Sprintf("%d entries, %s", backlog, read.name), func(b *testing.B) {
			for range b.N {
				if n, _, err := read.stats(ctx); err != nil || n != backlog {
					b.Fatalf("Stats = %d, %v; want %d", n, err, backlog)
				}
			}
		})
	}
}
