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

// Outbox persists deliveries and lead records for the forwarding package.
//
// Pending deliveries live in their own small collection (outbox) and move to the history
// (deliveries) when they finish: the workers' due-scan then reads only pending work, which
// matters on the embedded store, whose finds on secondary indexes scan the collection.
//
// What workers in several processes race for is decided by unique _id inserts, atomic on
// MongoDB and on a shared embedded store alike: a claim is the insert of "<delivery>:<n>",
// and the right to create a prospect's 7Targets lead is the insert of its creation record.
type Outbox struct {
	db *DB
}

// NewOutbox returns the outbox of db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db} }

// NewIntakeOutbox returns the outbox of db for the webhook intake, which only inserts new
// deliveries (EnqueueEach). On the embedded store the inserts go straight into SQLite, taking
// turns with the worker's writes (sqliteFile.insertNew); should that fail, they go through
// FerretDB on a connection of their own: the other connection serialises FerretDB's
// read-modify-write updates, which inserts of new documents need not wait behind. The unique
// _id still decides a duplicate, across connections as across processes. On MongoDB it is the
// same as NewOutbox.
func NewIntakeOutbox(db *DB) *Outbox {
	if db.intake == nil {
		return &Outbox{db: db}
	}
	return &Outbox{db: &DB{client: db.intake, db: db.intake.Database(db.db.Name()), embedded: db.embedded, sqlite: db.sqlite, shared: true}}
}

type prospectDoc struct {
	ID        string    `bson:"id"`
	GroupID   string    `bson:"groupId,omitempty"`
	FirstName string    `bson:"firstName,omitempty"`
	LastName  string    `bson:"lastName,omitempty"`
	Emails    []string  `bson:"emails,omitempty"`
	Phones    []string  `bson:"phones,omitempty"`
	Status    string    `bson:"status,omitempty"`
	UTMSource string    `bson:"utmSource,omitempty"`
	Comments  string    `bson:"comments,omitempty"`
	UpdatedAt time.Time `bson:"updatedAt,omitempty"`
	Partial   bool      `bson:"partial,omitempty"`
	// What routing rules compare besides groupId and utmSource.
	GroupName   string `bson:"groupName,omitempty"`
	Category    string `bson:"category,omitempty"`
	UTMMedium   string `bson:"utmMedium,omitempty"`
	UTMCampaign string `bson:"utmCampaign,omitempty"`
	Provider    string `bson:"provider,omitempty"`
	// Identity numbers of an imported Chat-Tonic lead.
	NIN []ninDoc `bson:"nin,omitempty"`
}

type ninDoc struct {
	Type   string `bson:"type"`
	Number string `bson:"number"`
}

func toProspectDoc(p zen7.Prospect) prospectDoc {
	return prospectDoc{
		ID: p.ID, GroupID: p.GroupID, FirstName: p.FirstName, LastName: p.LastName, Emails: p.Emails, Phones: p.Phones,
		Status: p.Status, UTMSource: p.UTMSource, Comments: p.Comments, UpdatedAt: p.UpdatedAt, Partial: p.Partial,
		GroupName: p.GroupName, Category: p.Category, UTMMedium: p.UTMMedium, UTMCampaign: p.UTMCampaign, Provider: p.Provider,
		NIN: toNINDocs(p.NIN),
	}
}

func toNINDocs(ns []zen7.NIN) []ninDoc {
	var out []ninDoc
	for _, n := range ns {
		out = append(out, ninDoc(n))
	}
	return out
}

func toProspect(p prospectDoc) zen7.Prospect {
	out := zen7.Prospect{
		ID: p.ID, GroupID: p.GroupID, FirstName: p.FirstName, LastName: p.LastName, Emails: p.Emails, Phones: p.Phones,
		Status: p.Status, UTMSource: p.UTMSource, Comments: p.Comments, UpdatedAt: utc(p.UpdatedAt), Partial: p.Partial,
		GroupName: p.GroupName, Category: p.Category, UTMMedium: p.UTMMedium, UTMCampaign: p.UTMCampaign, Provider: p.Provider,
	}
	for _, n := range p.NIN {
		out.NIN = append(out.NIN, zen7.NIN(n))
	}
	return out
}

type overridesDoc struct {
	Email          string `bson:"email,omitempty"`
	AssistantEmail string `bson:"assistantEmail,omitempty"`
	ScheduleName   string `bson:"scheduleName,omitempty"`
}

// deliveryDoc is both an outbox entry and, with its outcome filled in, a history entry.
type deliveryDoc struct {
	ID            string       `bson:"_id"`
	InstanceID    string       `bson:"instanceId"`
	Kind          string       `bson:"kind"`
	Prospect      prospectDoc  `bson:"prospect"`
	Overrides     overridesDoc `bson:"overrides,omitempty"`
	SnapshotAt    time.Time    `bson:"snapshotAt"`
	CreatedAt     time.Time    `bson:"createdAt"`
	Round         int          `bson:"round"` // 0, then +1 per manual retry
	Attempts      int          `bson:"attempts"`
	Claims        int          `bson:"claims"`
	Owner         string       `bson:"owner"` // always stored, for sqliteFile.setClaims to set
	NextAttemptAt time.Time    `bson:"nextAttemptAt"`
	LeaseUntil    time.Time    `bson:"leaseUntil"`
	LastError     string       `bson:"lastError,omitempty"`

	State          string     `bson:"state"`
	Outcome        string     `bson:"outcome,omitempty"`
	Why            *reasonDoc `bson:"why,omitempty"`
	Reason         string     `bson:"reason,omitempty"` // read only: the English text versions before reason codes stored
	LeadID         int64      `bson:"leadId,omitempty"`
	LeadState      string     `bson:"leadState,omitempty"`
	AssistantEmail string     `bson:"assistantEmail,omitempty"`
	RoutedBy       string     `bson:"routedBy,omitempty"`
	Rule           string     `bson:"rule,omitempty"`
	FinishedAt     time.Time  `bson:"finishedAt,omitempty"`
	Day            string     `bson:"day,omitempty"` // YYYY-MM-DD (UTC) of FinishedAt, for the report
	Retrying       bool       `bson:"retrying,omitempty"`
}

type claimDoc struct {
	ID         string    `bson:"_id"` // <delivery>:<n>
	Owner      string    `bson:"owner"`
	At         time.Time `bson:"at"`
	LeaseUntil time.Time `bson:"leaseUntil"`
}

type leadDoc struct {
	ID                string     `bson:"_id"` // <instance>:<prospect>
	InstanceID        string     `bson:"instanceId"`
	ProspectID        string     `bson:"prospectId"`
	State             string     `bson:"state"`
	Why               *reasonDoc `bson:"why,omitempty"`
	Reason            string     `bson:"reason,omitempty"` // read only, as in deliveryDoc
	LeadID            int64      `bson:"leadId,omitempty"`
	Email             string     `bson:"email,omitempty"`
	AssistantEmail    string     `bson:"assistantEmail,omitempty"`
	ScheduleName      string     `bson:"scheduleName,omitempty"`
	RoutedBy          string     `bson:"routedBy,omitempty"`
	Rule              string     `bson:"rule,omitempty"`
	Fingerprint       string     `bson:"fingerprint,omitempty"`
	SnapshotAt        time.Time  `bson:"snapshotAt"`
	ProspectStatus    string     `bson:"prospectStatus,omitempty"`
	SevenTargetsState string     `bson:"sevenTargetsState,omitempty"`
	SubState          string     `bson:"subState,omitempty"`
	NextScheduleTime  time.Time  `bson:"nextScheduleTime,omitempty"`
	LastAction        string     `bson:"lastAction,omitempty"`
	LastError         string     `bson:"lastError,omitempty"`
	UpdatedAt         time.Time  `bson:"updatedAt"`
}

type creationDoc struct {
	ID         string    `bson:"_id"` // <instance>:<prospect>
	DeliveryID string    `bson:"deliveryId"`
	At         time.Time `bson:"at"`
}

// reasonDoc is a zen7.Reason: its code and variable part, translated where it is shown.
type reasonDoc struct {
	Code    string `bson:"code"`
	Status  int    `bson:"status,omitempty"`
	AfterMS int64  `bson:"afterMs,omitempty"`
	Detail  string `bson:"detail,omitempty"`
}

func toReasonDoc(r zen7.Reason) *reasonDoc {
	if r.IsZero() {
		return nil
	}
	return &reasonDoc{Code: string(r.Code), Status: r.Status, AfterMS: r.After.Milliseconds(), Detail: r.Detail}
}

// toReason reads a stored reason: its code, or the English text an earlier version stored.
func toReason(d *reasonDoc, legacy string) zen7.Reason {
	if d == nil {
		return zen7.ParseReason(legacy)
	}
	return zen7.Reason{Code: zen7.ReasonCode(d.Code), Status: d.Status, After: time.Duration(d.AfterMS) * time.Millisecond, Detail: d.Detail}
}

func leadKey(instanceID, prospectID string) string { return instanceID + ":" + prospectID }

func toDeliveryDoc(d zen7.Delivery) deliveryDoc {
	doc := deliveryDoc{
		ID:             d.ID,
		InstanceID:     d.InstanceID,
		Kind:           string(d.Kind),
		Prospect:       toProspectDoc(d.Prospect),
		Overrides:      overridesDoc(d.Overrides),
		SnapshotAt:     d.SnapshotAt,
		CreatedAt:      d.CreatedAt,
		Round:          d.Round,
		Attempts:       d.Attempts,
		Claims:         d.Claims,
		NextAttemptAt:  d.NextAttemptAt,
		LeaseUntil:     d.LeaseUntil,
		Owner:          d.Owner,
		LastError:      d.LastError,
		State:          string(d.State),
		Outcome:        string(d.Outcome),
		Why:            toReasonDoc(d.Reason),
		LeadID:         d.LeadID,
		LeadState:      d.SevenTargetsState,
		AssistantEmail: d.AssistantEmail,
		RoutedBy:       string(d.RoutedBy),
		Rule:           d.Rule,
		FinishedAt:     d.FinishedAt,
		Retrying:       d.Retrying,
	}
	if doc.State == "" {
		doc.State = string(zen7.StatePending)
	}
	if !d.FinishedAt.IsZero() {
		doc.Day = d.FinishedAt.UTC().Format(time.DateOnly)
	}
	return doc
}

func toDelivery(doc deliveryDoc) zen7.Delivery {
	return zen7.Delivery{
		ID:         doc.ID,
		InstanceID: doc.InstanceID,
		Kind:       zen7.Kind(doc.Kind),
		Prospect:   toProspect(doc.Prospect),
		Overrides:  zen7.Overrides(doc.Overrides),
		SnapshotAt: utc(doc.SnapshotAt),
		CreatedAt:  utc(doc.CreatedAt),
		Round:      doc.Round,
		Attempts:   doc.Attempts,
		LastError:  doc.LastError,
		State:      zen7.DeliveryState(doc.State),
		Pending: zen7.Pending{
			Claims: doc.Claims, NextAttemptAt: utc(doc.NextAttemptAt), LeaseUntil: utc(doc.LeaseUntil), Owner: doc.Owner,
		},
		Result: zen7.Result{
			Outcome: zen7.Outcome(doc.Outcome), Reason: toReason(doc.Why, doc.Reason), LeadID: doc.LeadID,
			SevenTargetsState: doc.LeadState, AssistantEmail: doc.AssistantEmail, FinishedAt: utc(doc.FinishedAt),
			RoutedBy: zen7.RoutedBy(doc.RoutedBy), Rule: doc.Rule, Retrying: doc.Retrying,
		},
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// Enqueue implements forwarding.Store. The inserts are unordered, so one duplicate does not
// stop the others.
func (o *Outbox) Enqueue(ctx context.Context, ds []zen7.Delivery) (int, error) {
	inserted, err := o.EnqueueEach(ctx, ds)
	n := 0
	for _, ok := range inserted {
		if ok {
			n++
		}
	}
	return n, err
}

// EnqueueEach implements forwarding.Store and forwarding.Enqueuer: one unordered InsertMany, and for each
// delivery whether it was new (false: a duplicate already queued). On the embedded store the
// inserts are one SQLite transaction (sqliteFile.insertNew), falling back to the driver.
func (o *Outbox) EnqueueEach(ctx context.Context, ds []zen7.Delivery) ([]bool, error) {
	if len(ds) == 0 {
		return []bool{}, nil
	}
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = toDeliveryDoc(d)
	}
	if o.db.sqlite != nil {
		if inserted, err := o.db.sqlite.insertNew(ctx, colOutbox, docs); err == nil {
			return inserted, nil
		}
	}
	inserted, err := insertEach(ctx, o.db.collection(colOutbox), docs)
	if err != nil {
		return nil, fmt.Errorf("store.Enqueue: %w", err)
	}
	return inserted, nil
}

// insertEach inserts docs with one unordered InsertMany, so that one duplicate does not stop
// the others, and says for each whether it was inserted (false: its _id is taken). Any other
// failure is returned as is.
func insertEach(ctx context.Context, col *mongo.Collection, docs []any) ([]bool, error) {
	inserted := make([]bool, len(docs))
	for i := range inserted {
		inserted[i] = true
	}
	_, err := col.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return inserted, nil
	}
	// InsertMany reports write errors, duplicates included, as a BulkWriteException, one per
	// failed document with its index.
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, err
	}
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return nil, err
		}
		if we.Index >= 0 && we.Index < len(inserted) {
			inserted[we.Index] = false
		}
	}
	return inserted, nil
}

// Due implements forwarding.Store. On the embedded store it reads SQLite's due index
// (sqliteFile.due) and falls back to the driver's query should that fail.
func (o *Outbox) Due(ctx context.Context, now time.Time, n int, exceptInstances ...string) ([]zen7.Delivery, error) {
	docs, err := o.dueDocs(ctx, now, n, exceptInstances)
	if err != nil {
		return nil, fmt.Errorf("store.Due: %w", err)
	}
	return toDeliveries(docs), nil
}

func toDeliveries(docs []deliveryDoc) []zen7.Delivery {
	out := make([]zen7.Delivery, len(docs))
	for i, d := range docs {
		out[i] = toDelivery(d)
	}
	return out
}

func (o *Outbox) dueDocs(ctx context.Context, now time.Time, n int, exceptInstances []string) ([]deliveryDoc, error) {
	if o.db.sqlite != nil {
		if docs, err := o.db.sqlite.due(ctx, now, n, exceptInstances); err == nil {
			return docs, nil
		}
	}
	return o.dueQuery(ctx, now, n, exceptInstances)
}

// dueQuery is the due query through the driver: on MongoDB the due index serves it.
func (o *Outbox) dueQuery(ctx context.Context, now time.Time, n int, exceptInstances []string) ([]deliveryDoc, error) {
	filter := bson.D{
		{Key: "nextAttemptAt", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "leaseUntil", Value: bson.D{{Key: "$lte", Value: now}}},
	}
	if len(exceptInstances) > 0 {
		filter = append(filter, bson.E{Key: "instanceId", Value: bson.D{{Key: "$nin", Value: exceptInstances}}})
	}
	cur, err := o.db.collection(colOutbox).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "nextAttemptAt", Value: 1}}).SetLimit(int64(n)))
	if err != nil {
		return nil, err
	}
	var docs []deliveryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	return docs, nil
}

func claimID(deliveryID string, n int) string { return deliveryID + ":" + strconv.Itoa(n) }

// Claim implements forwarding.Store. The insert of claim n+1 picks one winner among workers
// that read the delivery with n claims; a claim whose holder died (its lease passed without
// the delivery moving on) is stepped over by claiming n+2.
func (o *Outbox) Claim(ctx context.Context, d zen7.Delivery, owner string, now, leaseUntil time.Time) (zen7.Delivery, error) {
	claims := o.db.collection(colClaims)
	n := d.Claims + 1
	inserted := false
	for range 4 {
		_, err := claims.InsertOne(ctx, claimDoc{ID: claimID(d.ID, n), Owner: owner, At: now, LeaseUntil: leaseUntil})
		if err == nil {
			inserted = true
			break
		}
		if !mongo.IsDuplicateKeyError(err) {
			return d, fmt.Errorf("store.Claim: %w", err)
		}
		var held claimDoc
		err = claims.FindOne(ctx, bson.D{{Key: "_id", Value: claimID(d.ID, n)}}).Decode(&held)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return d, zen7.ErrClaimed // gone meanwhile: someone moved on
		}
		if err != nil {
			return d, fmt.Errorf("store.Claim: %w", err)
		}
		if held.LeaseUntil.After(now) {
			return d, zen7.ErrClaimed
		}
		n++
	}
	if !inserted {
		return d, zen7.ErrClaimed // only a won insert is a claim
	}
	taken, err := o.setClaims(ctx, []claimSet{{id: d.ID, n: n, owner: owner, leaseUntil: leaseUntil}})
	if err != nil || !taken[0] {
		_, _ = claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: claimID(d.ID, n)}, {Key: "owner", Value: owner}})
		if err != nil {
			return d, fmt.Errorf("store.Claim: %w", err)
		}
		return d, zen7.ErrClaimed
	}
	d.Claims, d.LeaseUntil, d.Owner = n, leaseUntil, owner
	return d, nil
}

// claimSet is the update a won claim n makes to its delivery's outbox entry.
type claimSet struct {
	id         string
	n          int
	owner      string
	leaseUntil time.Time
}

// setClaims makes each claim's guarded update, and says which it took: the delivery must
// still be pending and not claimed further since (if it finished meanwhile, its outbox entry
// is deleted last, so the update matches nothing). On the embedded store it updates them all
// in one SQLite transaction (sqliteFile.setClaims), which FerretDB could not: it reads the whole
// outbox for a filter on more than _id, and commits each statement on its own. What that
// leaves untaken, or all should it fail, goes through the driver.
func (o *Outbox) setClaims(ctx context.Context, sets []claimSet) ([]bool, error) {
	if o.db.sqlite != nil {
		if taken, err := o.db.sqlite.setClaims(ctx, sets); err == nil {
			var rest []claimSet
			var restOf []int
			for i, s := range sets {
				if !taken[i] {
					rest, restOf = append(rest, s), append(restOf, i)
				}
			}
			if len(rest) == 0 {
				return taken, nil
			}
			// Most often lost to another claimer; an entry stored without an owner field
			// (before deliveryDoc always wrote one) is also left to the driver.
			more, err := o.setClaimsQuery(ctx, rest)
			if err != nil {
				return nil, err
			}
			for k, i := range restOf {
				taken[i] = more[k]
			}
			return taken, nil
		}
	}
	return o.setClaimsQuery(ctx, sets)
}

// setClaimsQuery is setClaims through the driver: one command of guarded updates by _id. When
// they match fewer entries than there are sets (or the answer is unknown), each entry is read
// back by _id to tell which are ours.
func (o *Outbox) setClaimsQuery(ctx context.Context, sets []claimSet) ([]bool, error) {
	outbox := o.db.collection(colOutbox)
	updates := make([]mongo.WriteModel, len(sets))
	for i, s := range sets {
		updates[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: s.id}, {Key: "claims", Value: bson.D{{Key: "$lt", Value: s.n}}}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "claims", Value: s.n}, {Key: "owner", Value: s.owner}, {Key: "leaseUntil", Value: s.leaseUntil}}}})
	}
	taken := make([]bool, len(sets))
	res, err := outbox.BulkWrite(ctx, updates, options.BulkWrite().SetOrdered(false))
	if err == nil && res.MatchedCount == int64(len(sets)) {
		for i := range taken {
			taken[i] = true
		}
		return taken, nil
	}
	for i, s := range sets {
		var doc deliveryDoc
		err := outbox.FindOne(ctx, bson.D{{Key: "_id", Value: s.id}},
			options.FindOne().SetProjection(bson.D{{Key: "claims", Value: 1}, {Key: "owner", Value: 1}})).Decode(&doc)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, err
		}
		taken[i] = err == nil && doc.Claims == s.n && doc.Owner == s.owner
	}
	return taken, nil
}

// ClaimMany implements forwarding.Store: Claim for several deliveries with two commands for
// them all, one unordered insert of their claim records (the unique _id still decides each
// across processes) and one write of their guarded updates (setClaims). The records of those
// not taken (a delivery finished or moved on meanwhile) are dropped, as Claim does. A delivery
// whose claim record is taken already goes through Claim, which steps over a dead holder's.
// It returns the deliveries claimed, in the order of ds.
//
// On the embedded store the inserts and updates are made in one SQLite transaction
// (sqliteFile.claim); a delivery it does not take goes through Claim, and should it fail, all
// go through the driver, maxUpdateStatements at a time.
func (o *Outbox) ClaimMany(ctx context.Context, ds []zen7.Delivery, owner string, now, leaseUntil time.Time) ([]zen7.Delivery, error) {
	if o.db.sqlite != nil && len(ds) > 0 {
		recs, sets := nextClaims(ds, owner, now, leaseUntil)
		if taken, err := o.db.sqlite.claim(ctx, recs, sets); err == nil {
			return o.claimRest(ctx, ds, taken, nil, owner, now, leaseUntil)
		}
	}
	return o.claimManyQuery(ctx, ds, owner, now, leaseUntil)
}

// nextClaims are the claim records and the updates of claiming each of ds next.
func nextClaims(ds []zen7.Delivery, owner string, now, leaseUntil time.Time) ([]claimDoc, []claimSet) {
	recs := make([]claimDoc, len(ds))
	sets := make([]claimSet, len(ds))
	for i, d := range ds {
		recs[i] = claimDoc{ID: claimID(d.ID, d.Claims+1), Owner: owner, At: now, LeaseUntil: leaseUntil}
		sets[i] = claimSet{id: d.ID, n: d.Claims + 1, owner: owner, leaseUntil: leaseUntil}
	}
	return recs, sets
}

// claimRest returns the deliveries of ds that taken says were claimed, and tries the others
// through Claim, but for those lost (nil: none) says have moved on: one whose claim record was
// someone's may be a dead holder's, which Claim steps over; one whose entry was not updated
// has moved on, or is one only the driver can update.
func (o *Outbox) claimRest(ctx context.Context, ds []zen7.Delivery, taken, lost []bool, owner string, now, leaseUntil time.Time) ([]zen7.Delivery, error) {
	var out []zen7.Delivery
	for i, d := range ds {
		if taken[i] {
			d.Claims, d.LeaseUntil, d.Owner = d.Claims+1, leaseUntil, owner
			out = append(out, d)
			continue
		}
		if lost != nil && lost[i] {
			continue
		}
		c, err := o.Claim(ctx, d, owner, now, leaseUntil)
		if err == nil {
			out = append(out, c)
		} else if !errors.Is(err, zen7.ErrClaimed) {
			return out, err
		}
	}
	return out, nil
}

// claimManyQuery is ClaimMany through the driver.
func (o *Outbox) claimManyQuery(ctx context.Context, ds []zen7.Delivery, owner string, now, leaseUntil time.Time) ([]zen7.Delivery, error) {
	if n := o.db.updateChunk(len(ds)); n < len(ds) {
		out, err := o.claimManyQuery(ctx, ds[:n], owner, now, leaseUntil)
		if err != nil {
			return out, err
		}
		rest, err := o.claimManyQuery(ctx, ds[n:], owner, now, leaseUntil)
		return append(out, rest...), err
	}
	if len(ds) == 1 {
		d, err := o.Claim(ctx, ds[0], owner, now, leaseUntil)
		if errors.Is(err, zen7.ErrClaimed) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []zen7.Delivery{d}, nil
	}
	docs := make([]any, len(ds))
	for i, d := range ds {
		docs[i] = claimDoc{ID: claimID(d.ID, d.Claims+1), Owner: owner, At: now, LeaseUntil: leaseUntil}
	}
	claims := o.db.collection(colClaims)
	won, err := insertEach(ctx, claims, docs)
	if err != nil {
		return nil, fmt.Errorf("store.ClaimMany: %w", err)
	}
	var sets []claimSet
	var setOf []int // sets[k] is the update of ds[setOf[k]]
	for i, d := range ds {
		if won[i] {
			sets = append(sets, claimSet{id: d.ID, n: d.Claims + 1, owner: owner, leaseUntil: leaseUntil})
			setOf = append(setOf, i)
		}
	}
	taken, lost := make([]bool, len(ds)), make([]bool, len(ds))
	if len(sets) > 0 {
		took, err := o.setClaims(ctx, sets)
		if err != nil {
			return nil, fmt.Errorf("store.ClaimMany: %w", err)
		}
		for k, i := range setOf {
			taken[i], lost[i] = took[k], !took[k]
			if !took[k] {
				_, _ = claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: claimID(sets[k].id, sets[k].n)}, {Key: "owner", Value: owner}})
			}
		}
	}
	return o.claimRest(ctx, ds, taken, lost, owner, now, leaseUntil)
}

// Release implements forwarding.Store.
func (o *Outbox) Release(ctx context.Context, d zen7.Delivery) error {
	_, err := o.db.collection(colOutbox).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: d.ID}, {Key: "claims", Value: d.Claims}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "attempts", Value: d.Attempts},
			{Key: "nextAttemptAt", Value: d.NextAttemptAt},
			{Key: "lastError", Value: d.LastError},
			{Key: "prospect", Value: toDeliveryDoc(d).Prospect},
			{Key: "leaseUntil", Value: time.Unix(0, 0).UTC()},
			{Key: "owner", Value: ""},
		}}})
	if err != nil {
		return fmt.Errorf("store.Release: %w", err)
	}
	return nil
}

// Finish records d's outcome in the history and removes it from the outbox: FinishMany of one.
func (o *Outbox) Finish(ctx context.Context, d zen7.Delivery) error {
	return o.FinishMany(ctx, []zen7.Finish{{Delivery: d}})[0]
}

// FinishMany implements forwarding.Store: how several deliveries ended, with one command per
// collection, each made of statements by _id (one write of lead records, one unordered insert
// into the history, one delete of outbox entries, one of claim records), which the embedded
// store serves by index as it does single commands. For each delivery, the lead record it
// leaves is written first, then its history entry, its claim records removed after and the
// outbox entry last, so a crash or a failed command between two steps only makes a delivery
// run again, and deciding again is idempotent: a delivery is never in the history without the
// lead record it left, which the next delivery of its prospect decides by. The other order of
// the deletes would leave, after a crash between them, claim records of a delivery that no
// longer runs, which nobody would ever drop. (A claimer that took the delivery with fewer
// claims meanwhile still loses at the outbox entry's guarded update, as in Claim.) A later
// round (a manual retry) replaces the history entry; a duplicate of the first round does not.
// Each delivery gets its own error: a statement that failed fails only its delivery.
//
// On the embedded store all of it is written in one SQLite transaction (sqliteFile.finish),
// where FerretDB would commit each statement on its own; should that fail, through the
// driver as above.
func (o *Outbox) FinishMany(ctx context.Context, fs []zen7.Finish) []error {
	errs := make([]error, len(fs))
	ds, leads, leadOf := splitFinishes(fs)
	if o.db.sqlite != nil && len(fs) > 0 {
		if err := o.db.sqlite.finish(ctx, leadDocs(leads), historyDocs(ds), ds); err == nil {
			return errs
		}
	}
	for k, err := range o.saveLeadsDriver(ctx, leads) {
		errs[leadOf[k]] = err
	}
	hist := o.db.collection(colDeliveries)
	var firsts []any
	var firstOf []int // firsts[k] is the history entry of ds[firstOf[k]]
	for i, d := range ds {
		if errs[i] != nil {
			continue
		}
		doc := historyDoc(d)
		if d.Round > 0 {
			if _, err := hist.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, doc, options.Replace().SetUpsert(true)); err != nil {
				errs[i] = fmt.Errorf("store.Finish: %w", err)
			}
			continue
		}
		firsts, firstOf = append(firsts, doc), append(firstOf, i)
	}
	if len(firsts) > 0 {
		_, err := hist.InsertMany(ctx, firsts, options.InsertMany().SetOrdered(false))
		failEach("store.FinishMany", err, firstOf, errs, mongo.IsDuplicateKeyError)
	}

	var ids []string
	var idOf []int
	for i, d := range ds {
		if errs[i] != nil {
			continue
		}
		for _, id := range claimIDs(d) {
			ids, idOf = append(ids, id), append(idOf, i)
		}
	}
	failEach("store.FinishMany", o.db.deleteIDs(ctx, colClaims, ids), idOf, errs, nil)

	ids, idOf = ids[:0], idOf[:0]
	for i, d := range ds {
		if errs[i] == nil {
			ids, idOf = append(ids, d.ID), append(idOf, i)
		}
	}
	failEach("store.FinishMany", o.db.deleteIDs(ctx, colOutbox, ids), idOf, errs, nil)
	return errs
}

// historyDoc is d's entry in the history.
func historyDoc(d zen7.Delivery) deliveryDoc {
	doc := toDeliveryDoc(d)
	doc.Owner, doc.LeaseUntil = "", time.Time{}
	doc.Retrying = false // this round's outcome replaces the one that was being retried
	return doc
}

func historyDocs(ds []zen7.Delivery) []deliveryDoc {
	docs := make([]deliveryDoc, len(ds))
	for i, d := range ds {
		docs[i] = historyDoc(d)
	}
	return docs
}

// claimIDs are the _ids of d's claim records.
func claimIDs(d zen7.Delivery) []string {
	ids := make([]string, 0, d.Claims)
	for n := 1; n <= d.Claims; n++ {
		ids = append(ids, claimID(d.ID, n))
	}
	return ids
}

// deleteIDs deletes the documents of col with the given _ids with one write: on the embedded
// store one SQLite transaction (sqliteFile.deleteIDs), falling back to the driver should that
// fail; on MongoDB one delete command of statements by _id, a BulkWriteException saying which
// failed.
func (d *DB) deleteIDs(ctx context.Context, col string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if d.sqlite != nil {
		if err := d.sqlite.deleteIDs(ctx, col, ids); err == nil {
			return nil
		}
	}
	dels := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		dels[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}})
	}
	_, err := d.collection(col).BulkWrite(ctx, dels, options.BulkWrite().SetOrdered(false))
	return err
}

// failEach sets errs[of[k]] for each statement k of an unordered write that failed (all of
// them if the write failed as a whole), except for errors ignore accepts, wrapped with op.
func failEach(op string, err error, of []int, errs []error, ignore func(error) bool) {
	if err == nil {
		return
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		for _, i := range of {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("%s: %w", op, err)
			}
		}
		return
	}
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(of) || (ignore != nil && ignore(we)) {
			continue
		}
		if i := of[we.Index]; errs[i] == nil {
			errs[i] = fmt.Errorf("%s: %w", op, we)
		}
	}
}

// Unlease implements forwarding.Store. The owner in the filter is the hand-over's own, so it
// never lifts the lease of a copy another request handed over, nor a claim.
func (o *Outbox) Unlease(ctx context.Context, id, owner string) error {
	_, err := o.db.collection(colOutbox).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "claims", Value: 0}, {Key: "owner", Value: owner}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "leaseUntil", Value: time.Unix(0, 0).UTC()}, {Key: "owner", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("store.Unlease: %w", err)
	}
	return nil
}

// Finished reports whether the delivery with id is in the history: FinishedAmong of one.
func (o *Outbox) Finished(ctx context.Context, id string) (bool, error) {
	in, err := o.FinishedAmong(ctx, []string{id})
	return in[id], err
}

// FinishedAmong implements forwarding.Store: one read by _id in the history (on the
// embedded store straight from SQLite by the App's _id index, sqliteFile.finished, falling
// back to the driver's query should that fail).
func (o *Outbox) FinishedAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	if len(ids) == 0 {
		return map[string]bool{}, nil
	}
	if o.db.sqlite != nil {
		if in, err := o.db.sqlite.finished(ctx, ids); err == nil {
			return in, nil
		}
	}
	in, err := o.finishedQuery(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("store.FinishedAmong: %w", err)
	}
	return in, nil
}

// finishedQuery is FinishedAmong through the driver: on MongoDB the _id index serves it.
func (o *Outbox) finishedQuery(ctx context.Context, ids []string) (map[string]bool, error) {
	cur, err := o.db.collection(colDeliveries).Find(ctx, byIDs(ids), options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	in := make(map[string]bool, len(docs))
	for _, d := range docs {
		in[d.ID] = true
	}
	return in, nil
}

// byIDs is the filter of the documents with the given _ids.
func byIDs(ids []string) bson.D {
	if len(ids) == 1 {
		return bson.D{{Key: "_id", Value: ids[0]}} // FerretDB finds this one by index, not an $in
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
}

// Discard implements forwarding.Store.
// Its claim records go first, for the reason FinishMany gives.
func (o *Outbox) Discard(ctx context.Context, d zen7.Delivery) error {
	if err := o.deleteClaims(ctx, d); err != nil {
		return err
	}
	if _, err := o.db.collection(colOutbox).DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "claims", Value: d.Claims}}); err != nil {
		return fmt.Errorf("store.Discard: %w", err)
	}
	return nil
}

func (o *Outbox) deleteClaims(ctx context.Context, d zen7.Delivery) error {
	if d.Claims == 0 {
		return nil // never claimed (handed over by the intake): no claim records to drop
	}
	if _, err := o.db.collection(colClaims).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: claimIDs(d)}}}}); err != nil {
		return fmt.Errorf("store: delete claims: %w", err)
	}
	return nil
}

// Stats implements forwarding.Store.
func (o *Outbox) Stats(ctx context.Context) (int, time.Time, error) {
	if o.db.sqlite != nil {
		if n, oldest, err := o.db.sqlite.outboxStats(ctx); err == nil {
			return n, oldest, nil
		}
	}
	return o.statsQuery(ctx)
}

// statsQuery is Stats through the driver, as on MongoDB.
func (o *Outbox) statsQuery(ctx context.Context) (int, time.Time, error) {
	col := o.db.collection(colOutbox)
	n, err := col.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store.Stats: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var oldest deliveryDoc
	err = col.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "createdAt", Value: 1}}).
		SetProjection(bson.D{{Key: "createdAt", Value: 1}})).Decode(&oldest)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, time.Time{}, fmt.Errorf("store.Stats: %w", err)
	}
	return int(n), utc(oldest.CreatedAt), nil
}

// Delivery implements forwarding.Store.
func (o *Outbox) Delivery(ctx context.Context, id string) (zen7.Delivery, error) {
	for _, col := range []string{colOutbox, colDeliveries} {
		var doc deliveryDoc
		err := o.db.collection(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
		if err == nil {
			return toDelivery(doc), nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return zen7.Delivery{}, fmt.Errorf("store.Delivery: %w", err)
		}
	}
	return zen7.Delivery{}, zen7.ErrNotFound
}

// ProspectDeliveries implements forwarding.Store: pending ones first, then the history, each
// newest first. The outbox is read first: a delivery finishes by its history entry being
// written before its outbox entry goes, so one that finishes between the two reads is still
// seen, in one or the other.
func (o *Outbox) ProspectDeliveries(ctx context.Context, instanceID, prospectID string, limit int) ([]zen7.Delivery, error) {
	filter := bson.D{{Key: "instanceId", Value: instanceID}, {Key: "prospect.id", Value: prospectID}}
	opts := options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(int64(limit))
	var out []zen7.Delivery
	for _, col := range []string{colOutbox, colDeliveries} {
		cur, err := o.db.collection(col).Find(ctx, filter, opts)
		if err != nil {
			return nil, fmt.Errorf("store.ProspectDeliveries: %w", err)
		}
		var docs []deliveryDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("store.ProspectDeliveries: %w", err)
		}
		for _, d := range docs {
			out = append(out, toDelivery(d))
		}
	}
	return out[:min(len(out), limit)], nil
}

// Requeue implements forwarding.Store.
func (o *Outbox) Requeue(ctx context.Context, instanceID, id string, now time.Time) error {
	owned := bson.D{{Key: "_id", Value: id}, {Key: "instanceId", Value: instanceID}}
	var doc deliveryDoc
	err := o.db.collection(colDeliveries).FindOne(ctx, owned).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if pending, err := o.db.collection(colOutbox).CountDocuments(ctx, owned); err == nil && pending > 0 {
			return fmt.Errorf("%w: the delivery is still pending", zen7.ErrInvalid)
		}
		return zen7.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store.Requeue: %w", err)
	}
	if doc.State != string(zen7.StateFailed) && doc.State != string(zen7.StateDead) {
		return fmt.Errorf("%w: only failed deliveries can be retried", zen7.ErrInvalid)
	}
	next := doc
	next.Round++
	next.Attempts, next.Claims, next.Owner = 0, 0, ""
	next.NextAttemptAt, next.LeaseUntil, next.CreatedAt = now, time.Time{}, now
	next.State, next.Outcome, next.Why, next.Reason, next.FinishedAt, next.Day = string(zen7.StatePending), "", nil, "", time.Time{}, ""
	// The history entry is flagged before the new round is queued, never after: the round's
	// outcome replaces the whole entry when it finishes, and a flag written later, by
	// FerretDB's read-modify-write of the whole entry, could put the old outcome back over it.
	// Should the process stop between the two writes, the entry says retrying with no round
	// queued, and retrying it again queues one.
	retrying := func(on bool) error {
		_, err := o.db.collection(colDeliveries).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "retrying", Value: on}}}})
		return err
	}
	if err := retrying(true); err != nil {
		return fmt.Errorf("store.Requeue: %w", err)
	}
	if _, err := o.db.collection(colOutbox).InsertOne(ctx, next); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil // already retrying
		}
		_ = retrying(false) // best effort: nothing was queued
		return fmt.Errorf("store.Requeue: %w", err)
	}
	return nil
}

// Lead returns the prospect's lead record, or ErrNotFound.
func (o *Outbox) Lead(ctx context.Context, instanceID, prospectID string) (zen7.Lead, error) {
	ls, err := o.LeadsFor(ctx, []zen7.Delivery{{InstanceID: instanceID, Prospect: zen7.Prospect{ID: prospectID}}})
	if err != nil {
		return zen7.Lead{}, err
	}
	if ls[0] == nil {
		return zen7.Lead{}, zen7.ErrNotFound
	}
	return *ls[0], nil
}

// LeadsFor implements forwarding.Store: one read by _id (on the embedded store straight from
// SQLite by the App's _id index, sqliteFile.leads, falling back to the driver's query should
// that fail).
func (o *Outbox) LeadsFor(ctx context.Context, ds []zen7.Delivery) ([]*zen7.Lead, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	keys := leadKeys(ds)
	docs, err := o.leadDocs(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("store.LeadsFor: %w", err)
	}
	return inOrder(keys, docs), nil
}

func (o *Outbox) leadDocs(ctx context.Context, keys []string) ([]leadDoc, error) {
	if o.db.sqlite != nil {
		if docs, err := o.db.sqlite.leads(ctx, keys); err == nil {
			return docs, nil
		}
	}
	return o.leadsQuery(ctx, keys)
}

func leadKeys(ds []zen7.Delivery) []string {
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = leadKey(d.InstanceID, d.Prospect.ID)
	}
	return keys
}

// inOrder returns, for each of keys, its lead record among docs, or nil.
func inOrder(keys []string, docs []leadDoc) []*zen7.Lead {
	byKey := make(map[string]leadDoc, len(docs))
	for _, d := range docs {
		byKey[d.ID] = d
	}
	out := make([]*zen7.Lead, len(keys))
	for i, k := range keys {
		if d, ok := byKey[k]; ok {
			out[i] = toLead(d) // each its own copy, for its delivery to change
		}
	}
	return out
}

// leadsQuery is LeadsFor's read through the driver: on MongoDB the _id index serves it.
func (o *Outbox) leadsQuery(ctx context.Context, keys []string) ([]leadDoc, error) {
	cur, err := o.db.collection(colLeads).Find(ctx, byIDs(keys))
	if err != nil {
		return nil, err
	}
	var docs []leadDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	return docs, nil
}

func toLead(d leadDoc) *zen7.Lead {
	return &zen7.Lead{
		InstanceID: d.InstanceID, ProspectID: d.ProspectID, State: zen7.LeadState(d.State), Reason: toReason(d.Why, d.Reason),
		LeadID: d.LeadID, Email: d.Email, AssistantEmail: d.AssistantEmail, ScheduleName: d.ScheduleName,
		RoutedBy: zen7.RoutedBy(d.RoutedBy), Rule: d.Rule, Fingerprint: d.Fingerprint, SnapshotAt: utc(d.SnapshotAt), ProspectStatus: d.ProspectStatus,
		SevenTargetsState: d.SevenTargetsState, SubState: d.SubState, NextScheduleTime: utc(d.NextScheduleTime),
		LastAction: zen7.Outcome(d.LastAction), LastError: d.LastError, UpdatedAt: utc(d.UpdatedAt),
	}
}

// SaveLead writes the prospect's lead record: SaveLeads of one.
func (o *Outbox) SaveLead(ctx context.Context, l zen7.Lead) error {
	return o.SaveLeads(ctx, []zen7.Lead{l})[0]
}

// SaveLeads writes the lead records ls, no two of one prospect, with one command of replacing
// upserts by _id for them all, and returns an error for each (nil: written). (The worker
// writes them with its deliveries' outcomes, FinishMany.)
// On the embedded store they are written in one SQLite transaction (sqliteFile.upsertLeads),
// where FerretDB would commit each statement on its own; should that fail, through the driver,
// maxUpdateStatements at a time.
func (o *Outbox) SaveLeads(ctx context.Context, ls []zen7.Lead) []error {
	if o.db.sqlite != nil && len(ls) > 0 {
		if err := o.db.sqlite.upsertLeads(ctx, leadDocs(ls)); err == nil {
			return make([]error, len(ls))
		}
	}
	return o.saveLeadsDriver(ctx, ls)
}

// splitFinishes returns the deliveries of fs, and the lead records they leave: leads[k] is
// fs[leadOf[k]]'s.
func splitFinishes(fs []zen7.Finish) (ds []zen7.Delivery, leads []zen7.Lead, leadOf []int) {
	ds = make([]zen7.Delivery, len(fs))
	for i, f := range fs {
		ds[i] = f.Delivery
		if f.Lead != nil {
			leads, leadOf = append(leads, *f.Lead), append(leadOf, i)
		}
	}
	return ds, leads, leadOf
}

// saveLeadsDriver is SaveLeads through the driver.
func (o *Outbox) saveLeadsDriver(ctx context.Context, ls []zen7.Lead) []error {
	errs := make([]error, len(ls))
	chunk := o.db.updateChunk(len(ls))
	for from := 0; from < len(ls); from += chunk {
		part := ls[from:min(len(ls), from+chunk)]
		models := make([]mongo.WriteModel, len(part))
		of := make([]int, len(part))
		for i, l := range part {
			doc := toLeadDoc(l)
			models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: doc.ID}}).SetReplacement(doc).SetUpsert(true)
			of[i] = from + i
		}
		_, err := o.db.collection(colLeads).BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		failEach("store.SaveLeads", err, of, errs, nil)
	}
	return errs
}

func leadDocs(ls []zen7.Lead) []leadDoc {
	docs := make([]leadDoc, len(ls))
	for i, l := range ls {
		docs[i] = toLeadDoc(l)
	}
	return docs
}

func toLeadDoc(l zen7.Lead) leadDoc {
	return leadDoc{
		ID: leadKey(l.InstanceID, l.ProspectID), InstanceID: l.InstanceID, ProspectID: l.ProspectID, State: string(l.State),
		Why: toReasonDoc(l.Reason), LeadID: l.LeadID, Email: l.Email, AssistantEmail: l.AssistantEmail, ScheduleName: l.ScheduleName,
		RoutedBy: string(l.RoutedBy), Rule: l.Rule, Fingerprint: l.Fingerprint, SnapshotAt: l.SnapshotAt, ProspectStatus: l.ProspectStatus,
		SevenTargetsState: l.SevenTargetsState, SubState: l.SubState, NextScheduleTime: l.NextScheduleTime,
		LastAction: string(l.LastAction), LastError: l.LastError, UpdatedAt: l.UpdatedAt,
	}
}

// ClaimCreations implements forwarding.Store: one unordered insert of the reservations, the
// unique _id deciding each as in ClaimCreation, which asks for the holder of those taken.
func (o *Outbox) ClaimCreations(ctx context.Context, ds []zen7.Delivery) ([]string, []error) {
	holders, errs := make([]string, len(ds)), make([]error, len(ds))
	docs := make([]any, len(ds))
	now := time.Now().UTC()
	for i, d := range ds {
		docs[i] = creationDoc{ID: leadKey(d.InstanceID, d.Prospect.ID), DeliveryID: d.ID, At: now}
	}
	won, err := o.reserve(ctx, docs)
	for i, d := range ds {
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("store.ClaimCreations: %w", err)
		case won[i]:
			holders[i] = d.ID
		default:
			holders[i], errs[i] = o.ClaimCreation(ctx, d.InstanceID, d.Prospect.ID, d.ID)
		}
	}
	return holders, errs
}

// reserve inserts the creation reservations docs, and says which were new: on the embedded
// store in one SQLite transaction (sqliteFile.insertNew).
func (o *Outbox) reserve(ctx context.Context, docs []any) ([]bool, error) {
	if o.db.sqlite != nil && len(docs) > 0 {
		if won, err := o.db.sqlite.insertNew(ctx, colCreations, docs); err == nil {
			return won, nil
		}
	}
	return insertEach(ctx, o.db.collection(colCreations), docs)
}

// ClaimCreation implements forwarding.Store.
func (o *Outbox) ClaimCreation(ctx context.Context, instanceID, prospectID, deliveryID string) (string, error) {
	// A holder that releases between the insert and the read lets the next insert win; a few
	// rounds settle any real race, so more means the store is not answering as it should.
	for range 4 {
		_, err := o.db.collection(colCreations).InsertOne(ctx, creationDoc{ID: leadKey(instanceID, prospectID), DeliveryID: deliveryID, At: time.Now().UTC()})
		if err == nil {
			return deliveryID, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return "", fmt.Errorf("store.ClaimCreation: %w", err)
		}
		holder, err := o.CreationHolder(ctx, instanceID, prospectID)
		if err != nil {
			return "", err
		}
		if holder != "" {
			return holder, nil
		}
	}
	return "", fmt.Errorf("store.ClaimCreation: the reservation of %s kept changing hands: %w", leadKey(instanceID, prospectID), zen7.ErrConflict)
}

// CreationHolder implements forwarding.Store.
func (o *Outbox) CreationHolder(ctx context.Context, instanceID, prospectID string) (string, error) {
	var d creationDoc
	err := o.db.collection(colCreations).FindOne(ctx, bson.D{{Key: "_id", Value: leadKey(instanceID, prospectID)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store.CreationHolder: %w", err)
	}
	return d.DeliveryID, nil
}

// ReleaseCreation implements forwarding.Store.
func (o *Outbox) ReleaseCreation(ctx context.Context, instanceID, prospectID, deliveryID string) error {
	_, err := o.db.collection(colCreations).DeleteOne(ctx, bson.D{{Key: "_id", Value: leadKey(instanceID, prospectID)}, {Key: "deliveryId", Value: deliveryID}})
	if err != nil {
		return fmt.Errorf("store.ReleaseCreation: %w", err)
	}
	return nil
}
