package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// ChatTonicSources persists the instances' Chat-Tonic import state for the forwarding
// package's poller: one document per instance (its _id the instance id).
//
// The right to read an instance's funnels is a lease won by an update guarded by the lease
// number read and a passed lease, so that of replicas racing for it one wins; the document
// itself is created by a unique insert. Progress is written only by an update guarded by the
// holder's lease number and owner, so a replica that lost its lease writes nothing more.
type ChatTonicSources struct {
	db *DB
}

// NewChatTonicSources returns the Chat-Tonic sources of db.
func NewChatTonicSources(db *DB) *ChatTonicSources { return &ChatTonicSources{db: db} }

type chatTonicDayDoc struct {
	Day  string `bson:"day"`
	Read int    `bson:"read"`
}

type chatTonicSourceDoc struct {
	ID           string            `bson:"_id"` // the instance id
	Codename     string            `bson:"codename"`
	ConfiguredAt time.Time         `bson:"configuredAt"`
	Watermark    time.Time         `bson:"watermark"`
	LastGoodRead time.Time         `bson:"lastGoodRead,omitempty"`
	LastError    string            `bson:"lastError,omitempty"`
	LastErrorAt  time.Time         `bson:"lastErrorAt,omitempty"`
	Failing      bool              `bson:"failing"`
	Failures     int               `bson:"failures"`
	NextPollAt   time.Time         `bson:"nextPollAt"`
	Groups       []string          `bson:"groups,omitempty"`
	ReadKey      string            `bson:"readKey,omitempty"`
	Days         []chatTonicDayDoc `bson:"days,omitempty"`
	Lease        int               `bson:"lease"`
	Owner        string            `bson:"owner,omitempty"`
	LeaseUntil   time.Time         `bson:"leaseUntil"`
}

func toChatTonicSourceDoc(s zen7.ChatTonicSource) chatTonicSourceDoc {
	d := chatTonicSourceDoc{
		ID: s.InstanceID, Codename: s.Codename, ConfiguredAt: s.ConfiguredAt, Watermark: s.Watermark,
		LastGoodRead: s.LastGoodRead, LastError: s.LastError, LastErrorAt: s.LastErrorAt, Failing: s.Failing,
		Failures: s.Failures, NextPollAt: s.NextPollAt, Groups: s.Groups, ReadKey: s.ReadKey,
		Lease: s.Lease, Owner: s.Owner, LeaseUntil: s.LeaseUntil,
	}
	for day, n := range s.ReadByDay {
		d.Days = append(d.Days, chatTonicDayDoc{Day: day, Read: n})
	}
	sort.Slice(d.Days, func(i, j int) bool { return d.Days[i].Day < d.Days[j].Day })
	return d
}

func toChatTonicSource(d chatTonicSourceDoc) zen7.ChatTonicSource {
	s := zen7.ChatTonicSource{
		InstanceID: d.ID, Codename: d.Codename, ConfiguredAt: utc(d.ConfiguredAt), Watermark: utc(d.Watermark),
		LastGoodRead: utc(d.LastGoodRead), LastError: d.LastError, LastErrorAt: utc(d.LastErrorAt), Failing: d.Failing,
		Failures: d.Failures, NextPollAt: utc(d.NextPollAt), Groups: d.Groups, ReadKey: d.ReadKey,
		Lease: d.Lease, Owner: d.Owner, LeaseUntil: utc(d.LeaseUntil),
	}
	if len(d.Days) > 0 {
		s.ReadByDay = make(map[string]int, len(d.Days))
		for _, day := range d.Days {
			s.ReadByDay[day.Day] += day.Read
		}
	}
	return s
}

// ChatTonicSource returns the instance's Chat-Tonic source, or ErrNotFound.
func (s *ChatTonicSources) ChatTonicSource(ctx context.Context, instanceID string) (zen7.ChatTonicSource, error) {
	var doc chatTonicSourceDoc
	err := s.db.collection(colChatTonic).FindOne(ctx, bson.D{{Key: "_id", Value: instanceID}}).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return zen7.ChatTonicSource{}, zen7.ErrNotFound
	case err != nil:
		return zen7.ChatTonicSource{}, fmt.Errorf("store.ChatTonicSource: %w", err)
	}
	return toChatTonicSource(doc), nil
}

// CreateChatTonicSource records src as the instance's new source, unleased. It returns
// ErrConflict if the instance has one: another replica created it first.
func (s *ChatTonicSources) CreateChatTonicSource(ctx context.Context, src zen7.ChatTonicSource) error {
	src.Lease, src.Owner = 0, ""
	_, err := s.db.collection(colChatTonic).InsertOne(ctx, toChatTonicSourceDoc(src))
	switch {
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("store.CreateChatTonicSource: %w", zen7.ErrConflict)
	case err != nil:
		return fmt.Errorf("store.CreateChatTonicSource: %w", err)
	}
	return nil
}

// TakeChatTonicSource leases src, as read, to owner until leaseUntil, if its lease has passed
// and its next poll is due at now, and returns it so leased. It returns ErrClaimed if another
// owner took it since src was read, or it is not due. The lease is won by a unique insert
// (claimLease), then recorded by an update guarded by the lease number.
func (s *ChatTonicSources) TakeChatTonicSource(ctx context.Context, src zen7.ChatTonicSource, owner string, now, leaseUntil time.Time) (zen7.ChatTonicSource, error) {
	claims := s.db.collection(colChatTonicClaims)
	n, err := claimLease(ctx, claims, src.InstanceID, src.Lease, owner, now, leaseUntil)
	if err != nil {
		if errors.Is(err, zen7.ErrClaimed) {
			return src, err
		}
		return src, fmt.Errorf("store.TakeChatTonicSource: %w", err)
	}
	res, err := s.db.collection(colChatTonic).UpdateOne(ctx, bson.D{
		{Key: "_id", Value: src.InstanceID}, {Key: "lease", Value: bson.D{{Key: "$lt", Value: n}}},
		{Key: "leaseUntil", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "nextPollAt", Value: bson.D{{Key: "$lte", Value: now}}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "lease", Value: n}, {Key: "owner", Value: owner}, {Key: "leaseUntil", Value: leaseUntil}}}})
	if err != nil || res.MatchedCount == 0 {
		dropLeaseClaim(ctx, claims, src.InstanceID, n, owner)
		if err != nil {
			return src, fmt.Errorf("store.TakeChatTonicSource: %w", err)
		}
		return src, zen7.ErrClaimed
	}
	pruneLeaseClaims(ctx, claims, src.InstanceID, n)
	// Re-read: the holder before may have saved progress after src was read.
	got, err := s.ChatTonicSource(ctx, src.InstanceID)
	if err != nil {
		return src, fmt.Errorf("store.TakeChatTonicSource: %w", err)
	}
	if got.Lease != n || got.Owner != owner {
		return src, zen7.ErrClaimed
	}
	return got, nil
}

// SaveChatTonicSource writes src if its lease (Lease and Owner) still holds the source. It
// returns ErrClaimed when it does not: another owner took it over.
func (s *ChatTonicSources) SaveChatTonicSource(ctx context.Context, src zen7.ChatTonicSource) error {
	d := toChatTonicSourceDoc(src)
	res, err := s.db.collection(colChatTonic).UpdateOne(ctx, bson.D{
		{Key: "_id", Value: src.InstanceID}, {Key: "lease", Value: src.Lease}, {Key: "owner", Value: src.Owner},
	}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "codename", Value: d.Codename}, {Key: "configuredAt", Value: d.ConfiguredAt}, {Key: "watermark", Value: d.Watermark},
		{Key: "lastGoodRead", Value: d.LastGoodRead}, {Key: "lastError", Value: d.LastError}, {Key: "lastErrorAt", Value: d.LastErrorAt},
		{Key: "failing", Value: d.Failing}, {Key: "failures", Value: d.Failures}, {Key: "nextPollAt", Value: d.NextPollAt},
		{Key: "groups", Value: d.Groups}, {Key: "readKey", Value: d.ReadKey}, {Key: "days", Value: d.Days}, {Key: "leaseUntil", Value: d.LeaseUntil},
	}}})
	switch {
	case err != nil:
		return fmt.Errorf("store.SaveChatTonicSource: %w", err)
	case res.MatchedCount == 0:
		return zen7.ErrClaimed
	}
	return nil
}

// KnownDeliveries returns those of the deliveries ids that are queued or finished, read by
// _id one by one (a lookup the embedded store indexes). It only spares the outbox deliveries
// it would drop: the unique id of a delivery is what keeps it once.
func (s *ChatTonicSources) KnownDeliveries(ctx context.Context, ids []string) (map[string]bool, error) {
	known := make(map[string]bool, len(ids))
	for _, col := range []string{colOutbox, colDeliveries} {
		c := s.db.collection(col)
		for _, id := range ids {
			if known[id] {
				continue
			}
			err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
			switch {
			case errors.Is(err, mongo.ErrNoDocuments):
			case err != nil:
				return nil, fmt.Errorf("store.KnownDeliveries: %w", err)
			default:
				known[id] = true
			}
		}
	}
	return known, nil
}
