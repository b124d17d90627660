package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// groupDoc maps a Sales group to the instance whose pages it shows, so that a page finds its
// instance with one read by _id whatever the number of instances. Each instance writes the
// groups of its own tree, read with its own API key (SetGroupTree); Depth and InstalledAt rank
// the claims where two trees overlap, At tells which tree read wrote the mapping.
type groupDoc struct {
	ID          string    `bson:"_id"` // group id
	InstanceID  string    `bson:"instanceId"`
	Depth       int       `bson:"depth"`
	InstalledAt time.Time `bson:"installedAt"`
	At          time.Time `bson:"at"`
}

// GroupInstance implements extensions.Store: the instance recorded for a group, or
// zen7.ErrNotFound.
func (p *Pages) GroupInstance(ctx context.Context, groupID string) (string, error) {
	id, err := groupInstance(ctx, p.db, groupID)
	if err != nil {
		return "", fmt.Errorf("store.GroupInstance: %w", err)
	}
	return id, nil
}

func groupInstance(ctx context.Context, db *DB, groupID string) (string, error) {
	var d groupDoc
	err := db.collection(colGroups).FindOne(ctx, bson.D{{Key: "_id", Value: groupID}},
		options.FindOne().SetProjection(bson.D{{Key: "instanceId", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", zen7.ErrNotFound
	}
	return d.InstanceID, err
}

// InstanceForGroup implements lifecycle.Store: the live instance recorded for a group, or
// zen7.ErrNotFound.
func (s *Instances) InstanceForGroup(ctx context.Context, groupID string) (zen7.Instance, error) {
	id, err := groupInstance(ctx, s.db, groupID)
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.InstanceForGroup: %w", err)
	}
	in, err := s.Instance(ctx, id)
	if err == nil && in.State == zen7.StateUninstalled {
		err = zen7.ErrNotFound
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.InstanceForGroup: %w", err)
	}
	return in, nil
}

// SetGroupTree implements lifecycle.Store. It maps every group of the tree to inst, except the
// groups a deeper installation holds, and drops inst's mappings of groups no longer in it.
//
// Each mapping is one upsert by _id whose filter admits only a weaker claim (inst's own older
// write, a shallower tree, an equal tree installed earlier, a mapping from before trees were
// read): when the filter excludes the stored mapping, the upsert's insert collides on the
// unique _id, and that duplicate-key error says a stronger claim holds the group. No other
// index is relied on, so writers racing over overlapping trees end with the stronger claim on
// MongoDB, where the filtered replace is atomic, and on the embedded store, whose single
// connection makes it so (as for every conditional write, see Connect).
func (s *Instances) SetGroupTree(ctx context.Context, inst zen7.Instance, t zen7.GroupTree) error {
	at := time.Now().UTC().Truncate(time.Millisecond) // as stored, so that $lte compares equal
	dead := map[string]bool{}                         // holders found not live, by id
	for _, g := range t.Groups {
		if err := s.claimGroup(ctx, g, inst, t.Depth, at, dead); err != nil {
			return fmt.Errorf("store.SetGroupTree: %w", err)
		}
	}
	// What an older read of the tree mapped and this one did not find has left the tree. The
	// delete's guard (still inst's, from an older read) spares a mapping another tree took
	// meanwhile; the embedded store serves it by reading every group, so it runs only when the
	// ids read first show a group left.
	held, err := instanceGroups(ctx, s.db, inst.ID)
	if err != nil {
		return fmt.Errorf("store.SetGroupTree: %w", err)
	}
	inTree := make(map[string]bool, len(t.Groups))
	for _, g := range t.Groups {
		inTree[g] = true
	}
	var stale bson.A
	for _, g := range held {
		if !inTree[g] {
			stale = append(stale, g)
		}
	}
	if len(stale) > 0 {
		_, err := s.db.collection(colGroups).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: stale}}},
			{Key: "instanceId", Value: inst.ID}, {Key: "at", Value: bson.D{{Key: "$lt", Value: at}}}})
		if err != nil {
			return fmt.Errorf("store.SetGroupTree: drop old groups: %w", err)
		}
	}
	// An uninstall that ran meanwhile may have dropped the instance's groups before these
	// writes landed; it marks the instance before dropping, so checking after writing sees it.
	live, err := s.isLiveID(ctx, inst.ID)
	if err != nil {
		return fmt.Errorf("store.SetGroupTree: %w", err)
	}
	if !live {
		if err := dropGroups(ctx, s.db, inst.ID); err != nil {
			return fmt.Errorf("store.SetGroupTree: %w", err)
		}
		return fmt.Errorf("store.SetGroupTree: instance uninstalled: %w", zen7.ErrNotFound)
	}
	return nil
}

// claimGroup maps group g to inst unless a stronger claim holds it. A mapping left by an
// instance no longer live (an uninstall whose drop failed) is no claim: it is dropped, once.
func (s *Instances) claimGroup(ctx context.Context, g string, inst zen7.Instance, depth int, at time.Time, dead map[string]bool) error {
	col := s.db.collection(colGroups)
	filter := bson.D{{Key: "_id", Value: g}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "instanceId", Value: inst.ID}, {Key: "at", Value: bson.D{{Key: "$lte", Value: at}}}},
		bson.D{{Key: "depth", Value: bson.D{{Key: "$lt", Value: depth}}}},
		bson.D{{Key: "depth", Value: depth}, {Key: "installedAt", Value: bson.D{{Key: "$lt", Value: inst.InstalledAt}}}},
		bson.D{{Key: "depth", Value: bson.D{{Key: "$exists", Value: false}}}},
	}}}
	doc := groupDoc{ID: g, InstanceID: inst.ID, Depth: depth, InstalledAt: inst.InstalledAt, At: at}
	// A group no one maps yet, as at an instance's first install, takes a plain insert, which
	// the embedded store serves by _id: the guarded replace below reads every group there.
	if _, err := col.InsertOne(ctx, doc); !mongo.IsDuplicateKeyError(err) {
		return err
	}
	for range 2 {
		_, err := col.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
		if !mongo.IsDuplicateKeyError(err) {
			return err
		}
		holder, err := groupInstance(ctx, s.db, g)
		switch {
		case errors.Is(err, zen7.ErrNotFound):
			continue // dropped meanwhile: try again
		case err != nil:
			return err
		case holder == inst.ID:
			return nil // a newer read of the same tree wrote it
		}
		isDead, known := dead[holder]
		if !known {
			live, err := s.isLiveID(ctx, holder)
			if err != nil {
				return err
			}
			isDead = !live
			dead[holder] = isDead
		}
		if !isDead {
			return nil // a nearer installation serves it
		}
		if _, err := col.DeleteOne(ctx, bson.D{{Key: "_id", Value: g}, {Key: "instanceId", Value: holder}}); err != nil {
			return err
		}
	}
	return nil
}

// isLiveID reports whether instance id exists and is not uninstalled. It reads by _id alone and
// looks at the state here: a filter on the state as well is a scan on the embedded store.
func (s *Instances) isLiveID(ctx context.Context, id string) (bool, error) {
	var d struct {
		State string `bson:"state"`
	}
	err := s.db.collection(colInstances).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "state", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil && d.State != string(zen7.StateUninstalled), err
}

// instanceGroups are the ids of the groups mapped to the instance: on the embedded store read
// from SQLite's index (sqliteFile.groupIDs), with the driver's query, served on MongoDB by the
// instance_at index, should that fail.
func instanceGroups(ctx context.Context, db *DB, instanceID string) ([]string, error) {
	if db.sqlite != nil {
		if ids, err := db.sqlite.groupIDs(ctx, instanceID); err == nil {
			return ids, nil
		}
	}
	return instanceGroupsQuery(ctx, db, instanceID)
}

func instanceGroupsQuery(ctx context.Context, db *DB, instanceID string) ([]string, error) {
	cur, err := db.collection(colGroups).Find(ctx, bson.D{{Key: "instanceId", Value: instanceID}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", instanceID, err)
	}
	var docs []groupDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("groups of %s: %w", instanceID, err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// dropGroups removes every mapping to the instance.
func dropGroups(ctx context.Context, db *DB, instanceID string) error {
	if _, err := db.collection(colGroups).DeleteMany(ctx, bson.D{{Key: "instanceId", Value: instanceID}}); err != nil {
		return fmt.Errorf("drop groups: %w", err)
	}
	return nil
}
