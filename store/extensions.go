package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Pages serves the extension pages' queries: which instance a Sales group belongs to (see
// groups.go), the report's deliveries, lead states, backfill and Chat-Tonic source, and used
// action-token nonces.
type Pages struct {
	db *DB
}

// NewPages returns the page queries of db.
func NewPages(db *DB) *Pages { return &Pages{db: db} }

type nonceDoc struct {
	ID      string    `bson:"_id"`
	Expires time.Time `bson:"expires"`
}

// ReportDeliveries implements extensions.Store: the instance's finished deliveries whose day
// (UTC) is within [from, to], both "YYYY-MM-DD".
func (p *Pages) ReportDeliveries(ctx context.Context, instanceID, from, to string) ([]zen7.Delivery, error) {
	if p.db.sqlite != nil {
		return p.db.sqlite.reportDeliveries(ctx, instanceID, from, to)
	}
	return p.reportDeliveriesQuery(ctx, instanceID, from, to)
}

func (p *Pages) reportDeliveriesQuery(ctx context.Context, instanceID, from, to string) ([]zen7.Delivery, error) {
	filter := bson.D{
		{Key: "instanceId", Value: instanceID},
		{Key: "day", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lte", Value: to}}},
	}
	proj := bson.D{
		{Key: "prospect.firstName", Value: 1}, {Key: "prospect.lastName", Value: 1}, {Key: "prospect.id", Value: 1},
		{Key: "instanceId", Value: 1}, {Key: "state", Value: 1}, {Key: "outcome", Value: 1}, {Key: "why", Value: 1}, {Key: "reason", Value: 1},
		{Key: "assistantEmail", Value: 1}, {Key: "finishedAt", Value: 1}, {Key: "retrying", Value: 1}, {Key: "kind", Value: 1},
		{Key: "routedBy", Value: 1}, {Key: "rule", Value: 1},
	}
	cur, err := p.db.collection(colDeliveries).Find(ctx, filter, options.Find().SetProjection(proj))
	if err != nil {
		return nil, fmt.Errorf("store.ReportDeliveries: %w", err)
	}
	var docs []deliveryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store.ReportDeliveries: %w", err)
	}
	return toDeliveries(docs), nil
}

// ForwardedLeads implements extensions.Store: the instance's lead records that reached 7Targets.
func (p *Pages) ForwardedLeads(ctx context.Context, instanceID string) ([]zen7.Lead, error) {
	if p.db.sqlite != nil {
		return p.db.sqlite.forwardedLeads(ctx, instanceID)
	}
	return p.forwardedLeadsQuery(ctx, instanceID)
}

func (p *Pages) forwardedLeadsQuery(ctx context.Context, instanceID string) ([]zen7.Lead, error) {
	filter := bson.D{
		{Key: "instanceId", Value: instanceID},
		{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{string(zen7.LeadForwarded), string(zen7.LeadStopped)}}}},
	}
	proj := bson.D{{Key: "prospectId", Value: 1}, {Key: "state", Value: 1}, {Key: "sevenTargetsState", Value: 1}, {Key: "updatedAt", Value: 1}}
	cur, err := p.db.collection(colLeads).Find(ctx, filter, options.Find().SetProjection(proj))
	if err != nil {
		return nil, fmt.Errorf("store.ForwardedLeads: %w", err)
	}
	var docs []leadDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store.ForwardedLeads: %w", err)
	}
	out := make([]zen7.Lead, len(docs))
	for i, d := range docs {
		out[i] = zen7.Lead{InstanceID: instanceID, ProspectID: d.ProspectID, State: zen7.LeadState(d.State),
			SevenTargetsState: d.SevenTargetsState, UpdatedAt: utc(d.UpdatedAt)}
	}
	return out, nil
}

// UseNonce records a used token nonce with a unique insert, zen7.ErrConflict if it was used, so a token is used once even when two processes receive it at the same moment. Now and then it also drops expired nonces
// (the embedded store has no TTL indexes).
func (p *Pages) UseNonce(ctx context.Context, nonce string, expires time.Time) error {
	col := p.db.collection(colNonces)
	if _, err := col.InsertOne(ctx, nonceDoc{ID: nonce, Expires: expires}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("store.UseNonce: nonce used already: %w", zen7.ErrConflict)
		}
		return fmt.Errorf("store.UseNonce: %w", err)
	}
	if rand.IntN(100) == 0 {
		_, _ = col.DeleteMany(ctx, bson.D{{Key: "expires", Value: bson.D{{Key: "$lt", Value: time.Now().UTC()}}}})
	}
	return nil
}

// Backfill implements extensions.Store: the instance's current or last backfill.
func (p *Pages) Backfill(ctx context.Context, instanceID string) (zen7.Backfill, error) {
	return NewBackfills(p.db).Backfill(ctx, instanceID)
}

// ChatTonicSource implements extensions.Store: the state of the instance's Chat-Tonic
// import, as the poller keeps it (ChatTonicSources), or zen7.ErrNotFound.
func (p *Pages) ChatTonicSource(ctx context.Context, instanceID string) (zen7.ChatTonicSource, error) {
	return NewChatTonicSources(p.db).ChatTonicSource(ctx, instanceID)
}
