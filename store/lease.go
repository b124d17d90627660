package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// A lease on a document that replicas race for (a backfill, a Chat-Tonic source) is won in two
// steps. First the unique insert of a claim "<prefix>:<n>", n one more than the lease number
// read: the unique _id picks one winner whatever the number of processes, which an update
// guarded by the lease number alone would not do across processes sharing the embedded store
// (its updates are unisolated read-modify-writes). Then the document is set to lease n by an
// update guarded by a lease number below n, which the caller makes.

type leaseClaimDoc struct {
	ID         string    `bson:"_id"` // <prefix>:<n>
	Owner      string    `bson:"owner"`
	At         time.Time `bson:"at"`
	LeaseUntil time.Time `bson:"leaseUntil"`
}

func leaseClaimID(prefix string, n int) string { return prefix + ":" + strconv.Itoa(n) }

// claimLease inserts the claim of lease read+1 of prefix for owner until leaseUntil and
// returns its number. A claim already taken is stepped over when its own lease passed at now:
// its holder died before it could record it, or recorded it and its lease passed since. It
// returns ErrClaimed when a live holder has it.
func claimLease(ctx context.Context, claims *mongo.Collection, prefix string, read int, owner string, now, leaseUntil time.Time) (int, error) {
	for n := read + 1; n <= read+4; n++ {
		_, err := claims.InsertOne(ctx, leaseClaimDoc{ID: leaseClaimID(prefix, n), Owner: owner, At: now, LeaseUntil: leaseUntil})
		if err == nil {
			return n, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, fmt.Errorf("claiming lease %d of %s: %w", n, prefix, err)
		}
		var held leaseClaimDoc
		err = claims.FindOne(ctx, bson.D{{Key: "_id", Value: leaseClaimID(prefix, n)}}).Decode(&held)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, fmt.Errorf("reading lease claim %d of %s: %w", n, prefix, err)
		}
		if err == nil && held.LeaseUntil.After(now) {
			return 0, zen7.ErrClaimed
		}
	}
	return 0, zen7.ErrClaimed
}

// dropLeaseClaim deletes owner's claim n of prefix: the update that would have recorded it
// matched nothing, so the claim holds nothing and must not block the next one.
func dropLeaseClaim(ctx context.Context, claims *mongo.Collection, prefix string, n int, owner string) {
	_, _ = claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: leaseClaimID(prefix, n)}, {Key: "owner", Value: owner}})
}

// pruneLeaseClaims deletes the claims of prefix older than n-1 once lease n is recorded: a
// claim is only ever read to step over it, and a document leased every minute would otherwise
// keep a claim per minute for ever. The one before n is kept for a replica that read the
// document before n was recorded. It is housekeeping: a failure leaves claims that the next
// take deletes, so it is not reported.
func pruneLeaseClaims(ctx context.Context, claims *mongo.Collection, prefix string, n int) {
	if n < 3 {
		return
	}
	ids := make([]string, 0, 4)
	for k := max(1, n-6); k < n-1; k++ {
		ids = append(ids, leaseClaimID(prefix, k))
	}
	_, _ = claims.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
}
