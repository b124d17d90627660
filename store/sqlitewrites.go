package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// The writes sqliteFile makes for the intake and the worker. Each is one unit of work
// (writeWork), all of it written or none; the committer runs the units waiting together in one
// SQLite transaction, and answers each once that transaction is committed and on disk. So
// writers that come together share one commit, and its fsync, as the group commit of a
// database server would have them do, and they take turns on one connection instead of
// waiting for SQLite's write lock in its busy handler (which polls with sleeps of up to
// 100 ms). FerretDB's own writes still wait for the lock there.
//
// The fsync is pipelined: the writer's connection commits without it (synchronous=NORMAL, in
// WAL mode: a commit appends to the WAL file and returns), and a syncer fsyncs the WAL file
// before it answers the units of the transactions committed up to then, while the committer
// runs the next. A unit is answered as it was with synchronous=FULL, once its transaction is
// durable, but the one connection that may write no longer waits for the disk between two
// transactions, and one fsync covers every transaction committed while the last one ran.
// (SQLite itself syncs the WAL file before a checkpoint copies it into the database file, and
// the database file after.)

// writeWork is one unit of work within tx. It may run more than once (the committer runs a
// group again if one of its units failed), so each run sets all of its results afresh.
type writeWork func(ctx context.Context, tx *sql.Tx) error

type writeReq struct {
	ctx  context.Context
	work writeWork
	done chan error // buffered: the committer never waits for the caller
}

// maxGroup bounds the units one transaction takes, so that none waits behind an unbounded queue.
const maxGroup = 64

// committer runs the units sent to it on writer, which commits without syncing, until stop
// is closed; syncer answers them once the WAL file (wal) is synced.
type committer struct {
	writer    *sql.DB
	wal       string
	queue     chan *writeReq  // unbuffered: a unit is taken only by a running committer
	committed chan []unitDone // to the syncer
	stop      chan struct{}
	done      chan struct{}
}

// unitDone is a unit that ran, and how: nil if its transaction is committed, to be answered
// once it is synced.
type unitDone struct {
	req *writeReq
	err error
}

func startCommitter(writer *sql.DB, wal string) *committer {
	c := &committer{writer: writer, wal: wal, queue: make(chan *writeReq), committed: make(chan []unitDone, maxGroup),
		stop: make(chan struct{}), done: make(chan struct{})}
	synced := make(chan struct{})
	go c.sync(synced)
	go func() {
		c.run()
		close(c.committed)
		<-synced
		close(c.done)
	}()
	return c
}

// close stops the committer once the transaction in hand is answered.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}

func (c *committer) run() {
	for {
		var group []*writeReq
		select {
		case req := <-c.queue:
			group = append(group, req)
		case <-c.stop:
			return
		}
	more: // and whatever else is waiting now, without waiting for more
		for len(group) < maxGroup {
			select {
			case req := <-c.queue:
				group = append(group, req)
			default:
				break more
			}
		}
		ran := make([]unitDone, len(group))
		for i, err := range c.commit(group) {
			ran[i] = unitDone{group[i], err}
		}
		c.committed <- ran
	}
}

// sync answers the units of the transactions committed, once the WAL file is synced: every
// transaction committed when the fsync starts is on disk when it returns. It closes done once
// committed is closed and drained.
func (c *committer) sync(done chan<- struct{}) {
	defer close(done)
	for ran := range c.committed {
		units := ran
	more: // every transaction committed meanwhile shares this fsync
		for {
			select {
			case r, ok := <-c.committed:
				if !ok {
					break more
				}
				units = append(units, r...)
			default:
				break more
			}
		}
		var err error
		if slices.ContainsFunc(units, func(u unitDone) bool { return u.err == nil }) {
			err = syncFile(c.wal)
		}
		for _, u := range units {
			if u.err == nil && err != nil {
				// Committed, but perhaps not on disk: the caller takes it as a write that may
				// have landed, as it takes a reply lost.
				u.err = fmt.Errorf("store: syncing the committed write: %w", err)
			}
			u.req.done <- u.err
		}
	}
}

// syncFile fsyncs the file at path. A file that is not there is nothing to sync: SQLite removes
// the WAL file only once it is copied into the database file and that is synced.
func syncFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// commit runs group in one transaction and says how each unit ended. Units seldom fail, so
// they first run one after another with nothing between them; if one fails, that transaction
// is rolled back and the group runs again with each unit in a savepoint of its own
// (withSavepoints), so that the failed unit is rolled back alone. Savepoints cost SQLite a copy
// of each page a unit changes, and were a tenth of the worker's CPU when every group took them.
// A failed commit fails them all.
func (c *committer) commit(group []*writeReq) []error {
	errs, failed := c.runGroup(group, false)
	if failed && len(group) > 1 {
		errs, _ = c.runGroup(group, true)
	}
	return errs
}

// runGroup runs group in one transaction, each unit in a savepoint of its own if
// withSavepoints is set, and says how each ended and whether a unit failed. Without savepoints
// a failed unit rolls the whole transaction back, and every unit fails with it.
func (c *committer) runGroup(group []*writeReq, withSavepoints bool) (errs []error, unitFailed bool) {
	errs = make([]error, len(group))
	failAll := func(err error) ([]error, bool) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs, unitFailed
	}
	// The transaction is the committer's, not any caller's: a caller that gives up fails only
	// its own unit.
	ctx := context.Background()
	tx, err := c.writer.BeginTx(ctx, nil)
	if err != nil {
		return failAll(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	exec := func(q string) error {
		if !withSavepoints {
			return nil
		}
		_, err := tx.ExecContext(ctx, q)
		return err
	}
	for i, req := range group {
		if err := req.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if err := exec(`SAVEPOINT unit`); err != nil {
			return failAll(err)
		}
		if errs[i] = req.work(req.ctx, tx); errs[i] != nil {
			unitFailed = true
			if !withSavepoints {
				return failAll(errs[i])
			}
			if err := exec(`ROLLBACK TO unit`); err != nil {
				return failAll(err)
			}
		}
		if err := exec(`RELEASE unit`); err != nil {
			return failAll(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return failAll(err)
	}
	return errs, unitFailed
}

// inTx runs work as a transaction of its own in effect, and returns once it is committed (or
// failed). Once taken, the unit is answered even if ctx ends meanwhile (its statements then
// fail), so work's results are never written to after inTx returns.
func (r *sqliteFile) inTx(ctx context.Context, work writeWork) error {
	r.mu.Lock()
	c := r.committer
	r.mu.Unlock()
	if c == nil {
		return errors.New("store: the SQLite file is closed")
	}
	req := &writeReq{ctx: ctx, work: work, done: make(chan error, 1)}
	select {
	case c.queue <- req:
	case <-c.stop:
		return errors.New("store: the SQLite file is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done
}

// deleteIDs deletes the documents of collection (the outbox or its claim records) with the
// given _ids, in one transaction.
func (r *sqliteFile) deleteIDs(ctx context.Context, collection string, ids []string) error {
	_, tables, err := r.db()
	if err != nil {
		return err
	}
	var table string
	switch collection {
	case colOutbox:
		table = tables.outbox
	case colClaims:
		table = tables.claims
	default:
		return fmt.Errorf("store: no direct delete from %s", collection)
	}
	q, args, err := deleteSQL(table, ids)
	if err != nil {
		return err
	}
	r.commandOn(ctx, "delete", collection)
	return r.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
}

// deleteSQL is the statement, and its arguments, deleting the documents of table with the
// given _ids (at least one).
func deleteSQL(table string, ids []string) (string, []any, error) {
	return sqlByIDs(fmt.Sprintf(`DELETE FROM %s WHERE %s IN (%%s)`, quoteIdent(table), sqlID), ids)
}

// setClaims is Outbox.setClaims: each claim's guarded update of its outbox entry, in one
// transaction, and which matched. It sets the three fields in the stored JSON, where FerretDB
// keeps their values (a number, a string, a date as Unix milliseconds) apart from its schema
// of their types, which stays as it was. So it matches only an entry whose schema has an owner
// field (every one deliveryDoc writes since it always stores one) and a claims of a number
// type; the caller updates any other through the driver.
//
// Like a FerretDB update, it is atomic in SQLite but not isolated from the read-modify-write
// of FerretDB's updates of the same entry: only claim records' unique inserts decide between
// claimers (Outbox.Claim), as they do across processes.
func (r *sqliteFile) setClaims(ctx context.Context, sets []claimSet) ([]bool, error) {
	return r.claim(ctx, nil, sets)
}

// claim is setClaims, each update made only if the insert of its claim record recs[i] comes
// first and wins (FerretDB's unique _id index deciding, as for its own inserts); a record
// whose update then matches nothing is deleted again, as Outbox.Claim deletes it. With recs
// nil it makes the updates alone. It says which deliveries it took.
func (r *sqliteFile) claim(ctx context.Context, recs []claimDoc, sets []claimSet) ([]bool, error) {
	_, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	encoded, err := encodeAll(recs)
	if err != nil {
		return nil, err
	}
	update := fmt.Sprintf(`UPDATE %s SET _ferretdb_sjson = json_set(_ferretdb_sjson, '$.claims', ?, '$.owner', ?, '$.leaseUntil', ?)
		WHERE %s = ? AND _ferretdb_sjson->>'$.claims' < ?
		AND _ferretdb_sjson->>'$."$s".p.owner.t' = 'string'
		AND _ferretdb_sjson->>'$."$s".p.claims.t' IN ('int', 'long')
		AND _ferretdb_sjson->>'$."$s".p.leaseUntil.t' = 'date'`, quoteIdent(tables.outbox), sqlID)
	insert := fmt.Sprintf(`INSERT OR IGNORE INTO %s (_ferretdb_sjson) VALUES (?)`, quoteIdent(tables.claims))
	drop := fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, quoteIdent(tables.claims), sqlID)
	if recs != nil {
		r.commandOn(ctx, "insert", colClaims)
	}
	r.commandOn(ctx, "update", colOutbox)
	taken := make([]bool, len(sets))
	err = r.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		clear(taken)
		for i, s := range sets {
			if recs != nil {
				if won, err := execChanged(ctx, tx, insert, encoded[i]); err != nil || !won {
					if err != nil {
						return err
					}
					continue
				}
			}
			id, err := idArg(s.id)
			if err != nil {
				return err
			}
			if taken[i], err = execChanged(ctx, tx, update, s.n, s.owner, s.leaseUntil.UnixMilli(), id, s.n); err != nil {
				return err
			}
			if !taken[i] && recs != nil {
				rec, err := idArg(recs[i].ID)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, drop, rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return taken, nil
}

// execChanged runs the statement q within tx, and says whether it changed a row.
func execChanged(ctx context.Context, tx *sql.Tx, q string, args ...any) (bool, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// insertNew inserts docs into collection (the outbox, or the creation reservations) in one
// transaction, each unless its _id is taken, FerretDB's unique _id index deciding as for its
// own inserts. It says which were inserted.
func (r *sqliteFile) insertNew(ctx context.Context, collection string, docs []any) ([]bool, error) {
	_, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	var table string
	switch collection {
	case colOutbox:
		table = tables.outbox
	case colCreations:
		table = tables.creations
	default:
		return nil, fmt.Errorf("store: no direct insert into %s", collection)
	}
	encoded, err := encodeAll(docs)
	if err != nil {
		return nil, err
	}
	insert := fmt.Sprintf(`INSERT OR IGNORE INTO %s (_ferretdb_sjson) VALUES (?)`, quoteIdent(table))
	r.commandOn(ctx, "insert", collection)
	won := make([]bool, len(docs))
	err = r.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, doc := range encoded {
			var err error
			if won[i], err = execChanged(ctx, tx, insert, doc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return won, nil
}

// upsertLeads is Outbox.SaveLeads: each lead record replaced by _id, or inserted if it is
// not there, in one transaction, encoded as FerretDB encodes a document (encodeSJSON). The
// transaction holds SQLite's write lock from its start, so no other writer inserts a record
// between an update that found none and the insert; should one have got in first anyway, the
// insert breaks the unique _id index, the unit fails and the caller writes through the driver.
func (r *sqliteFile) upsertLeads(ctx context.Context, docs []leadDoc) error {
	_, tables, err := r.db()
	if err != nil {
		return err
	}
	encoded, err := encodeAll(docs)
	if err != nil {
		return err
	}
	r.commandOn(ctx, "update", colLeads)
	return r.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, d := range docs {
			if err := upsertDoc(ctx, tx, tables.leads, d.ID, encoded[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// finish is Outbox.FinishMany in one transaction: the lead records the deliveries leave,
// then for each delivery its history entry (the first round's inserted unless it is there, a
// later round's replacing it), then the deletes of its claim records and of its outbox entry.
// It is reported as the four commands it is on MongoDB (three without lead records).
func (r *sqliteFile) finish(ctx context.Context, leads []leadDoc, hist []deliveryDoc, ds []zen7.Delivery) error {
	_, tables, err := r.db()
	if err != nil {
		return err
	}
	leadsEncoded, err := encodeAll(leads)
	if err != nil {
		return err
	}
	docs, err := encodeAll(hist)
	if err != nil {
		return err
	}
	var claims, entries []string
	for _, d := range ds {
		claims = append(claims, claimIDs(d)...)
		entries = append(entries, d.ID)
	}
	type deletes struct {
		q    string
		args []any
	}
	var dels []deletes
	for _, del := range []struct {
		table string
		ids   []string
	}{{tables.claims, claims}, {tables.outbox, entries}} {
		if len(del.ids) == 0 {
			continue
		}
		q, args, err := deleteSQL(del.table, del.ids)
		if err != nil {
			return err
		}
		dels = append(dels, deletes{q, args})
	}
	insertFirst := fmt.Sprintf(`INSERT OR IGNORE INTO %s (_ferretdb_sjson) VALUES (?)`, quoteIdent(tables.deliveries))
	if len(leads) > 0 {
		r.commandOn(ctx, "update", colLeads)
	}
	r.commandOn(ctx, "insert", colDeliveries)
	if len(claims) > 0 {
		r.commandOn(ctx, "delete", colClaims)
	}
	r.commandOn(ctx, "delete", colOutbox)
	return r.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, l := range leads {
			if err := upsertDoc(ctx, tx, tables.leads, l.ID, leadsEncoded[i]); err != nil {
				return err
			}
		}
		for i, d := range ds {
			var err error
			if d.Round > 0 {
				err = upsertDoc(ctx, tx, tables.deliveries, hist[i].ID, docs[i])
			} else {
				// FerretDB's unique _id index decides: a duplicate of the first round is ignored.
				_, err = tx.ExecContext(ctx, insertFirst, docs[i])
			}
			if err != nil {
				return err
			}
		}
		for _, del := range dels {
			if _, err := tx.ExecContext(ctx, del.q, del.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// upsertDoc replaces the document of table with _id id by doc (encoded), or inserts doc if
// there is none, within tx.
func upsertDoc(ctx context.Context, tx *sql.Tx, table, id, doc string) error {
	arg, err := idArg(id)
	if err != nil {
		return err
	}
	replaced, err := execChanged(ctx, tx, fmt.Sprintf(`UPDATE %s SET _ferretdb_sjson = ? WHERE %s = ?`, quoteIdent(table), sqlID), doc, arg)
	if err != nil || replaced {
		return err
	}
	_, err = tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (_ferretdb_sjson) VALUES (?)`, quoteIdent(table)), doc)
	return err
}
