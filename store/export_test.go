package store

import (
	"bytes"
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// RawDocuments returns every document of a collection as stored (nested documents as bson.M),
// for tests that check what is, and is not, at rest.
func RawDocuments(ctx context.Context, d *DB, collection string) ([]bson.M, error) {
	cur, err := d.collection(collection).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	var out []bson.M
	for cur.Next(ctx) {
		dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(cur.Current)))
		dec.DefaultDocumentM()
		var m bson.M
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, cur.Err()
}

// ReportDeliveriesQuery is ReportDeliveries through the driver, as on MongoDB, whatever the store.
func (p *Pages) ReportDeliveriesQuery(ctx context.Context, instanceID, from, to string) ([]zen7.Delivery, error) {
	return p.reportDeliveriesQuery(ctx, instanceID, from, to)
}

// ForwardedLeadsQuery is ForwardedLeads through the driver, as on MongoDB, whatever the store.
func (p *Pages) ForwardedLeadsQuery(ctx context.Context, instanceID string) ([]zen7.Lead, error) {
	return p.forwardedLeadsQuery(ctx, instanceID)
}

// ReportFile is the SQLite file the report reads on the embedded store ("" on MongoDB).
func ReportFile(d *DB) string {
	if d.sqlite == nil {
		return ""
	}
	return d.sqlite.file
}

// InsertRaw stores doc in collection as it is, for tests of documents earlier versions wrote.
func InsertRaw(ctx context.Context, d *DB, collection string, doc any) error {
	_, err := d.collection(collection).InsertOne(ctx, doc)
	return err
}

// DueQuery is Outbox.Due through the driver, as on MongoDB, whatever the store.
func (o *Outbox) DueQuery(ctx context.Context, now time.Time, n int, except ...string) ([]zen7.Delivery, error) {
	docs, err := o.dueQuery(ctx, now, n, except)
	return toDeliveries(docs), err
}

// StatsQuery is Outbox.Stats through the driver, as on MongoDB, whatever the store.
func (o *Outbox) StatsQuery(ctx context.Context) (int, time.Time, error) { return o.statsQuery(ctx) }

// StatsDirect is Outbox.Stats read from the embedded store's SQLite file, without the fallback
// to the driver; it fails on MongoDB.
func (o *Outbox) StatsDirect(ctx context.Context) (int, time.Time, error) {
	if o.db.sqlite == nil {
		return 0, time.Time{}, errors.New("not the embedded store")
	}
	return o.db.sqlite.outboxStats(ctx)
}

// DueDirect is Outbox.Due read from the embedded store's SQLite file, without the fallback to
// the driver; it fails on MongoDB.
func (o *Outbox) DueDirect(ctx context.Context, now time.Time, n int, except ...string) ([]zen7.Delivery, error) {
	if o.db.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	docs, err := o.db.sqlite.due(ctx, now, n, except)
	return toDeliveries(docs), err
}

// Collection is one of db's collections, for benchmarks that time single commands.
func Collection(db *DB, name string) *mongo.Collection { return db.collection(name) }

// InstanceGroupsQuery is the ids of an instance's group mappings through the driver, as on
// MongoDB, whatever the store.
func InstanceGroupsQuery(ctx context.Context, d *DB, instanceID string) ([]string, error) {
	return instanceGroupsQuery(ctx, d, instanceID)
}

// InstanceGroupsDirect is the same read from the embedded store's SQLite file, without the
// fallback to the driver; it fails on MongoDB.
func InstanceGroupsDirect(ctx context.Context, d *DB, instanceID string) ([]string, error) {
	if d.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	return d.sqlite.groupIDs(ctx, instanceID)
}

// ReadsByIDQuery is FinishedAmong and LeadsFor through the driver, as on MongoDB, whatever the
// store: which of ids are in the history, and the lead records of ds.
func (o *Outbox) ReadsByIDQuery(ctx context.Context, ids []string, ds []zen7.Delivery) (map[string]bool, []*zen7.Lead, error) {
	in, err := o.finishedQuery(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	keys := leadKeys(ds)
	docs, err := o.leadsQuery(ctx, keys)
	return in, inOrder(keys, docs), err
}

// ReadsByIDDirect is the same read from the embedded store's SQLite file, without the fallback
// to the driver; it fails on MongoDB.
func (o *Outbox) ReadsByIDDirect(ctx context.Context, ids []string, ds []zen7.Delivery) (map[string]bool, []*zen7.Lead, error) {
	if o.db.sqlite == nil {
		return nil, nil, errors.New("not the embedded store")
	}
	in, err := o.db.sqlite.finished(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	keys := leadKeys(ds)
	docs, err := o.db.sqlite.leads(ctx, keys)
	return in, inOrder(keys, docs), err
}

// DeleteIDs is how FinishMany deletes a batch of _ids from collection, whatever the store.
func DeleteIDs(ctx context.Context, d *DB, collection string, ids []string) error {
	return d.deleteIDs(ctx, collection, ids)
}

// DeleteIDsDirect deletes the documents of collection with the given _ids straight from the
// embedded store's SQLite file, without the fallback to the driver; it fails on MongoDB.
func DeleteIDsDirect(ctx context.Context, d *DB, collection string, ids []string) error {
	if d.sqlite == nil {
		return errors.New("not the embedded store")
	}
	return d.sqlite.deleteIDs(ctx, collection, ids)
}

// SetClaims is how claims set their outbox entries (the guarded update), whatever the store:
// claim ns[i] of the delivery ids[i] by owner until leaseUntil. It says which it took.
func SetClaims(ctx context.Context, o *Outbox, ids []string, ns []int, owner string, leaseUntil time.Time) ([]bool, error) {
	return o.setClaims(ctx, claimSets(ids, ns, owner, leaseUntil))
}

// SetClaimsDirect is the same update in the embedded store's SQLite file, without the
// fallback to the driver; it fails on MongoDB.
func SetClaimsDirect(ctx context.Context, o *Outbox, ids []string, ns []int, owner string, leaseUntil time.Time) ([]bool, error) {
	if o.db.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	return o.db.sqlite.setClaims(ctx, claimSets(ids, ns, owner, leaseUntil))
}

func claimSets(ids []string, ns []int, owner string, leaseUntil time.Time) []claimSet {
	sets := make([]claimSet, len(ids))
	for i, id := range ids {
		sets[i] = claimSet{id: id, n: ns[i], owner: owner, leaseUntil: leaseUntil}
	}
	return sets
}

// EncodeSJSON is how documents are written straight into the embedded store's file.
func EncodeSJSON(doc bson.Raw) ([]byte, error) { return encodeSJSON(doc) }

// StoredLeadJSON is the lead record with _id id as the embedded store's file holds it; it
// fails on MongoDB.
func StoredLeadJSON(ctx context.Context, d *DB, id string) ([]byte, error) {
	if d.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	conn, tables, err := d.sqlite.db()
	if err != nil {
		return nil, err
	}
	arg, err := idArg(id)
	if err != nil {
		return nil, err
	}
	var raw []byte
	err = conn.QueryRowContext(ctx, `SELECT _ferretdb_sjson FROM `+quoteIdent(tables.leads)+` WHERE `+sqlID+` = ?`, arg).Scan(&raw)
	return raw, err
}

// SaveLeadsDirect is SaveLeads straight into the embedded store's file, without the fallback
// to the driver; it fails on MongoDB.
func (o *Outbox) SaveLeadsDirect(ctx context.Context, ls []zen7.Lead) error {
	if o.db.sqlite == nil {
		return errors.New("not the embedded store")
	}
	return o.db.sqlite.upsertLeads(ctx, leadDocs(ls))
}

// FinishManyDirect is FinishMany straight into the embedded store's file, in one transaction,
// without the fallback to the driver; it fails on MongoDB.
func (o *Outbox) FinishManyDirect(ctx context.Context, fs []zen7.Finish) error {
	if o.db.sqlite == nil {
		return errors.New("not the embedded store")
	}
	ds, leads, _ := splitFinishes(fs)
	return o.db.sqlite.finish(ctx, leadDocs(leads), historyDocs(ds), ds)
}

// ClaimDirect is ClaimMany's one transaction in the embedded store's file (claim records
// inserted, then outbox entries updated), without Claim for those it does not take and
// without the fallback to the driver: which of ds it took. It fails on MongoDB.
func (o *Outbox) ClaimDirect(ctx context.Context, ds []zen7.Delivery, owner string, now, leaseUntil time.Time) ([]bool, error) {
	if o.db.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	recs, sets := nextClaims(ds, owner, now, leaseUntil)
	return o.db.sqlite.claim(ctx, recs, sets)
}

// ReserveDirect is ClaimCreations' insert of reservations for ds in the embedded store's file,
// without the fallback to the driver: which were new. It fails on MongoDB.
func (o *Outbox) ReserveDirect(ctx context.Context, ds []zen7.Delivery) ([]bool, error) {
	if o.db.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = creationDoc{ID: leadKey(d.InstanceID, d.Prospect.ID), DeliveryID: d.ID, At: time.Now().UTC()}
	}
	return o.db.sqlite.insertNew(ctx, colCreations, docs)
}

// EnqueueDirect is EnqueueEach straight into the embedded store's file, without the fallback
// to the driver; it fails on MongoDB.
func (o *Outbox) EnqueueDirect(ctx context.Context, ds []zen7.Delivery) ([]bool, error) {
	if o.db.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = toDeliveryDoc(d)
	}
	return o.db.sqlite.insertNew(ctx, colOutbox, docs)
}

// InstancesByIDQuery is InstancesByID through the driver, as on MongoDB, whatever the store.
func (s *Instances) InstancesByIDQuery(ctx context.Context, ids []string) (map[string]zen7.Instance, error) {
	list, err := s.find(ctx, "InstancesByIDQuery", idsFilter(ids), 0, nil)
	if err != nil {
		return nil, err
	}
	return byID(list), nil
}

// InstancesByIDDirect is InstancesByID straight from the embedded store's file, without the
// fallback to the driver; it fails on MongoDB.
func (s *Instances) InstancesByIDDirect(ctx context.Context, ids []string) (map[string]zen7.Instance, error) {
	if s.db.sqlite == nil {
		return nil, errors.New("not the embedded store")
	}
	docs, err := s.db.sqlite.instances(ctx, ids)
	if err != nil {
		return nil, err
	}
	list, err := s.openAll(docs)
	if err != nil {
		return nil, err
	}
	return byID(list), nil
}
