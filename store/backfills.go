package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Backfills persists the instances' backfills for the backfill package: one document per
// instance (its _id the instance id) holding the current or last backfill.
//
// What replicas race for is won as the outbox's claims are: starting a backfill by the unique
// insert of the instance's document or an update guarded by the sequence number it read, and
// the right to work on it by the unique insert of a lease claim "<instance>:<seq>:<n>" followed
// by an update guarded by the lease number. Progress is written only by an update guarded by
// the holder's lease, so a replica that lost its lease writes nothing more.
type Backfills struct {
	db *DB
}

// NewBackfills returns the backfills of db.
func NewBackfills(db *DB) *Backfills { return &Backfills{db: db} }

type backfillDoc struct {
	ID          string     `bson:"_id"` // the instance id
	Seq         int        `bson:"seq"`
	Days        int        `bson:"days"`
	WindowStart time.Time  `bson:"windowStart"`
	Cursor      string     `bson:"cursor,omitempty"`
	Found       int        `bson:"found"`
	Forwarded   int        `bson:"forwarded"`
	Skipped     int        `bson:"skipped"`
	Failed      int        `bson:"failed"`
	State       string     `bson:"state"`
	Why         *reasonDoc `bson:"why,omitempty"`
	StartedAt   time.Time  `bson:"startedAt"`
	UpdatedAt   time.Time  `bson:"updatedAt"`
	FinishedAt  time.Time  `bson:"finishedAt,omitempty"`
	Pending     []string   `bson:"pending,omitempty"`
	Lease       int        `bson:"lease"`
	Owner       string     `bson:"owner,omitempty"`
	LeaseUntil  time.Time  `bson:"leaseUntil"`
}

func toBackfillDoc(b zen7.Backfill) backfillDoc {
	return backfillDoc{
		ID: b.InstanceID, Seq: b.Seq, Days: b.Days, WindowStart: b.WindowStart, Cursor: b.Cursor,
		Found: b.Found, Forwarded: b.Forwarded, Skipped: b.Skipped, Failed: b.Failed,
		State: string(b.State), Why: toReasonDoc(b.Reason),
		StartedAt: b.StartedAt, UpdatedAt: b.UpdatedAt, FinishedAt: b.FinishedAt, Pending: b.Pending,
		Lease: b.Lease, Owner: b.Owner, LeaseUntil: b.LeaseUntil,
	}
}

func toBackfill(d backfillDoc) zen7.Backfill {
	return zen7.Backfill{
		InstanceID: d.ID, Seq: d.Seq, Days: d.Days, WindowStart: utc(d.WindowStart), Cursor: d.Cursor,
		Found: d.Found, Forwarded: d.Forwarded, Skipped: d.Skipped, Failed: d.Failed,
		State: zen7.BackfillState(d.State), Reason: toReason(d.Why, ""),
		StartedAt: utc(d.StartedAt), UpdatedAt: utc(d.UpdatedAt), FinishedAt: utc(d.FinishedAt), Pending: d.Pending,
		Lease: d.Lease, Owner: d.Owner, LeaseUntil: utc(d.LeaseUntil),
	}
}

// Backfill returns the instance's current or last backfill, or ErrNotFound.
func (s *Backfills) Backfill(ctx context.Context, instanceID string) (zen7.Backfill, error) {
	var doc backfillDoc
	err := s.db.collection(colBackfills).FindOne(ctx, bson.D{{Key: "_id", Value: instanceID}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return zen7.Backfill{}, zen7.ErrNotFound
	case err != nil:
		return zen7.Backfill{}, fmt.Errorf("store.Backfill: %w", err)
	}
	return toBackfill(doc), nil
}

// StartBackfill records b (its Seq says which it is) as the instance's backfill, in place of
// backfill b.Seq-1, which must still be the instance's and be finished (or, for Seq 1, none at
// all). It returns ErrConflict otherwise: another backfill started or is running.
func (s *Backfills) StartBackfill(ctx context.Context, b zen7.Backfill) error {
	col := s.db.collection(colBackfills)
	doc := toBackfillDoc(b)
	if b.Seq == 1 {
		_, err := col.InsertOne(ctx, doc)
		switch {
		case mongo.IsDuplicateKeyError(err):
			return fmt.Errorf("store.StartBackfill: %w", zen7.ErrConflict)
		case err != nil:
			return fmt.Errorf("store.StartBackfill: %w", err)
		}
		return nil
	}
	res, err := col.ReplaceOne(ctx, bson.D{
		{Key: "_id", Value: b.InstanceID}, {Key: "seq", Value: b.Seq - 1},
		{Key: "state", Value: bson.D{{Key: "$ne", Value: string(zen7.BackfillRunning)}}},
	}, doc)
	switch {
	case err != nil:
		return fmt.Errorf("store.StartBackfill: %w", err)
	case res.MatchedCount == 0:
		return fmt.Errorf("store.StartBackfill: %w", zen7.ErrConflict)
	}
	return nil
}

// RunnableBackfills returns up to limit running backfills whose lease has passed at now. The
// collection holds one small document per instance that ever backfilled: it is read whole,
// without an index.
func (s *Backfills) RunnableBackfills(ctx context.Context, now time.Time, limit int) ([]zen7.Backfill, error) {
	cur, err := s.db.collection(colBackfills).Find(ctx, bson.D{
		{Key: "state", Value: string(zen7.BackfillRunning)},
		{Key: "leaseUntil", Value: bson.D{{Key: "$lte", Value: now}}},
	}, options.Find().SetLimit(int64(limit)).SetSort(bson.D{{Key: "leaseUntil", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("store.RunnableBackfills: %w", err)
	}
	var docs []backfillDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store.RunnableBackfills: %w", err)
	}
	out := make([]zen7.Backfill, len(docs))
	for i, d := range docs {
		out[i] = toBackfill(d)
	}
	return out, nil
}

// backfillClaimPrefix names the lease claims of one backfill: "<instance>:<seq>:<n>".
func backfillClaimPrefix(instanceID string, seq int) string {
	return instanceID + ":" + strconv.Itoa(seq)
}

// TakeBackfill leases b, as read with a passed lease, to owner until leaseUntil and returns it
// so leased. It returns ErrClaimed if another owner took it since b was read, or if it ended.
func (s *Backfills) TakeBackfill(ctx context.Context, b zen7.Backfill, owner string, now, leaseUntil time.Time) (zen7.Backfill, error) {
	claims := s.db.collection(colBackfillClaims)
	prefix := backfillClaimPrefix(b.InstanceID, b.Seq)
	n, err := claimLease(ctx, claims, prefix, b.Lease, owner, now, leaseUntil)
	if err != nil {
		if errors.Is(err, zen7.ErrClaimed) {
			return b, err
		}
		return b, fmt.Errorf("store.TakeBackfill: %w", err)
	}
	res, err := s.db.collection(colBackfills).UpdateOne(ctx, bson.D{
		{Key: "_id", Value: b.InstanceID}, {Key: "seq", Value: b.Seq},
		{Key: "state", Value: string(zen7.BackfillRunning)},
		{Key: "lease", Value: bson.D{{Key: "$lt", Value: n}}},
		{Key: "leaseUntil", Value: bson.D{{Key: "$lte", Value: now}}}, // not renewed meanwhile
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "lease", Value: n}, {Key: "owner", Value: owner}, {Key: "leaseUntil", Value: leaseUntil}}}})
	if err != nil || res.MatchedCount == 0 {
		dropLeaseClaim(ctx, claims, prefix, n, owner)
		if err != nil {
			return b, fmt.Errorf("store.TakeBackfill: %w", err)
		}
		return b, zen7.ErrClaimed
	}
	pruneLeaseClaims(ctx, claims, prefix, n)
	// Re-read: the holder before may have saved progress after b was read.
	got, err := s.Backfill(ctx, b.InstanceID)
	if err != nil {
		return b, fmt.Errorf("store.TakeBackfill: %w", err)
	}
	if got.Seq != b.Seq || got.Lease != n || got.Owner != owner {
		return b, zen7.ErrClaimed
	}
	return got, nil
}

// SaveBackfill writes b's progress, state and lease end, if b's lease (Lease and Owner) still
// holds the backfill. It returns ErrClaimed when it does not: another owner took it over.
func (s *Backfills) SaveBackfill(ctx context.Context, b zen7.Backfill) error {
	d := toBackfillDoc(b)
	res, err := s.db.collection(colBackfills).UpdateOne(ctx, bson.D{
		{Key: "_id", Value: b.InstanceID}, {Key: "seq", Value: b.Seq},
		{Key: "lease", Value: b.Lease}, {Key: "owner", Value: b.Owner},
		{Key: "state", Value: string(zen7.BackfillRunning)},
	}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "cursor", Value: d.Cursor}, {Key: "found", Value: d.Found}, {Key: "forwarded", Value: d.Forwarded},
		{Key: "skipped", Value: d.Skipped}, {Key: "failed", Value: d.Failed}, {Key: "state", Value: d.State},
		{Key: "why", Value: d.Why}, {Key: "updatedAt", Value: d.UpdatedAt}, {Key: "finishedAt", Value: d.FinishedAt},
		{Key: "pending", Value: d.Pending}, {Key: "leaseUntil", Value: d.LeaseUntil},
	}}})
	switch {
	case err != nil:
		return fmt.Errorf("store.SaveBackfill: %w", err)
	case res.MatchedCount == 0:
		return zen7.ErrClaimed
	}
	return nil
}

// PendingCount returns how many of the deliveries ids are still in the outbox.
func (s *Backfills) PendingCount(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := s.db.collection(colOutbox).CountDocuments(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("store.PendingCount: %w", err)
	}
	return int(n), nil
}

// FinishedDeliveries returns the deliveries of ids found in the history, read one by one by
// _id (a lookup the embedded store indexes, where an $in over the history would scan it).
func (s *Backfills) FinishedDeliveries(ctx context.Context, ids []string) ([]zen7.Delivery, error) {
	out := make([]zen7.Delivery, 0, len(ids))
	col := s.db.collection(colDeliveries)
	for _, id := range ids {
		var doc deliveryDoc
		err := col.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue
		case err != nil:
			return nil, fmt.Errorf("store.FinishedDeliveries: %w", err)
		}
		out = append(out, toDelivery(doc))
	}
	return out, nil
}
