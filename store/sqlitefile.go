package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// sqliteFile answers, on the embedded store, the queries FerretDB would answer by scanning
// (the report's two, the worker's due query, and an instance's group mappings) straight from
// its SQLite file, through expression indexes it adds there.
//
// FerretDB v1 pushes down to SQLite only a filter on _id alone: any other find reads and decodes
// every document of the collection in Go (about 100 µs each). The report filters deliveries by
// instance and day and lead records by instance, so through FerretDB it cost what is stored,
// not what is in range: about 20 s at 100,000 deliveries, past the server's write timeout.
// The due query filters the outbox by time, so each poll cost what is waiting, not what it
// takes: with 5,000 waiting, about half a second per poll of 32.
// Here SQLite reads only the rows in range, from an index, and extracts the few fields the
// report shows, or the whole due document (decodeSJSON). It depends on FerretDB v1's storage (a
// table per collection, listed in _ferretdb_collections, each document as JSON in
// _ferretdb_sjson, dates as Unix milliseconds); TestReportQueriesAgree, TestDueQueriesAgree and
// TestInstanceGroupsAgree check it returns what the MongoDB queries return.
// An install maps its groups (SetGroupTree) and then looks for mappings its tree no longer has:
// through FerretDB that read cost every group of every instance, so seeding 10,000 instances
// took time quadratic in their number.
// The worker reads what it needs for a batch of deliveries (which are in the history, their
// prospects' lead records) with one query each, by the _id index indexIDLookups adds: FerretDB
// would scan for an $in on _id. On MongoDB the same queries are served by the instance_day,
// instance_state, due and instance_at indexes and by _id.
//
// It also makes the intake's and the worker's writes (sqlitewrites.go), where FerretDB would
// commit each statement of an update or delete on its own and read the whole outbox for the
// claims' filter on more than _id. SQLite keeps every index of the table, FerretDB's included
// (its unique _id index decides a duplicate as it does for FerretDB's own inserts), and
// FerretDB holds no state of a collection's rows, so it sees the rows written or gone as if it
// had written them.
//
// Each read or write is reported to the store's command monitor as the command it stands in
// for on MongoDB, so that commands counted on the embedded store carry over.
type sqliteFile struct {
	file     string
	database string
	monitor  *event.CommandMonitor // nil: none

	mu        sync.Mutex
	conn      *sql.DB    // for reads; opened by prepare
	committer *committer // for writes, on a connection of its own
	tables    sqliteTables
}

// sqliteTables are the tables of the collections sqliteFile reads or writes.
type sqliteTables struct{ deliveries, leads, outbox, groups, claims, creations, instances string }

// The expressions the indexes are built on; a query uses an index only through the same
// expression.
const (
	sqlInstance = `_ferretdb_sjson->>'$.instanceId'`
	sqlDay      = `_ferretdb_sjson->>'$.day'`
	sqlNext     = `_ferretdb_sjson->>'$.nextAttemptAt'`
	sqlLease    = `_ferretdb_sjson->>'$.leaseUntil'`
)

func newSQLiteFile(dir, database string, monitor *event.CommandMonitor) *sqliteFile {
	return &sqliteFile{file: filepath.Join(dir, database+".sqlite"), database: database, monitor: monitor}
}

// findOn tells the monitor of a read standing in for a find on collection.
func (r *sqliteFile) findOn(ctx context.Context, collection string) {
	r.commandOn(ctx, "find", collection)
}

// commandOn tells the monitor of the command name on collection this file's access stands in for.
func (r *sqliteFile) commandOn(ctx context.Context, name, collection string) {
	if r.monitor == nil || r.monitor.Started == nil {
		return
	}
	cmd, err := bson.Marshal(bson.D{{Key: name, Value: collection}})
	if err != nil {
		return
	}
	r.monitor.Started(ctx, &event.CommandStartedEvent{Command: cmd, DatabaseName: r.database, CommandName: name})
}

// sqlID is the expression FerretDB's lookups by _id filter on, which indexIDLookups indexes,
// and idArg the form of a string _id it compares with (FerretDB's sjson encoding of a string,
// which is encoding/json's).
const sqlID = `_ferretdb_sjson->'$._id'`

func idArg(id string) (string, error) {
	b, err := json.Marshal(id)
	return string(b), err
}

// sqlByIDs returns query, whose one "%s" is replaced with a list of placeholders, and its
// arguments for ids.
func sqlByIDs(query string, ids []string) (string, []any, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		a, err := idArg(id)
		if err != nil {
			return "", nil, err
		}
		args[i] = a
	}
	return fmt.Sprintf(query, "?"+strings.Repeat(",?", len(ids)-1)), args, nil
}

// queryByIDs runs query, whose one "%s" is replaced with a list of placeholders, for ids.
func queryByIDs(ctx context.Context, conn *sql.DB, query string, ids []string) (*sql.Rows, error) {
	q, args, err := sqlByIDs(query, ids)
	if err != nil {
		return nil, err
	}
	return conn.QueryContext(ctx, q, args...)
}

// finished is Outbox.FinishedAmong: which of ids are in the history.
func (r *sqliteFile) finished(ctx context.Context, ids []string) (map[string]bool, error) {
	conn, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	r.findOn(ctx, colDeliveries)
	rows, err := queryByIDs(ctx, conn, fmt.Sprintf(`SELECT _ferretdb_sjson->>'$._id' FROM %s WHERE %s IN (%%s)`, quoteIdent(tables.deliveries), sqlID), ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// leads is Outbox.LeadsFor: the lead records with the keys given.
func (r *sqliteFile) leads(ctx context.Context, keys []string) ([]leadDoc, error) {
	return docsByID[leadDoc](ctx, r, colLeads, func(t sqliteTables) string { return t.leads }, keys)
}

// docsByID reads the documents of collection, whose table table picks, with the given _ids
// (at least one), by the _id index.
func docsByID[T any](ctx context.Context, r *sqliteFile, collection string, table func(sqliteTables) string, ids []string) ([]T, error) {
	conn, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	r.findOn(ctx, collection)
	rows, err := queryByIDs(ctx, conn, fmt.Sprintf(`SELECT _ferretdb_sjson FROM %s WHERE %s IN (%%s)`, quoteIdent(table(tables)), sqlID), ids)
	if err != nil {
		return nil, err
	}
	return scanDocs[T](rows)
}

// instances is Instances.InstancesByID: the documents of the instances with ids (at least one).
func (r *sqliteFile) instances(ctx context.Context, ids []string) ([]instanceDoc, error) {
	return docsByID[instanceDoc](ctx, r, colInstances, func(t sqliteTables) string { return t.instances }, ids)
}

// scanDocs decodes rows of whole stored documents (one _ferretdb_sjson column) into T, and
// closes rows.
func scanDocs[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		doc, err := decodeSJSON(raw)
		if err != nil {
			return nil, err
		}
		b, err := bson.Marshal(doc)
		if err != nil {
			return nil, err
		}
		var d T
		if err := bson.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// prepare opens the file, finds the tables and indexes them; the collections must exist.
func (r *sqliteFile) prepare(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		// FerretDB runs the file in WAL mode, so these reads never block its writes.
		conn, err := sql.Open("sqlite", "file:"+filepath.ToSlash(r.file)+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return fmt.Errorf("store: opening %s: %w", r.file, err)
		}
		conn.SetMaxOpenConns(2)
		// The writes' one connection (see sqlitewrites.go): each transaction takes SQLite's
		// write lock as it begins, and commits without syncing: the committer's syncer does.
		writer, err := sql.Open("sqlite", "file:"+filepath.ToSlash(r.file)+"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err != nil {
			conn.Close()
			return fmt.Errorf("store: opening %s: %w", r.file, err)
		}
		writer.SetMaxOpenConns(1)
		r.conn, r.committer = conn, startCommitter(writer, r.file+"-wal")
	}
	t := &r.tables
	tables := map[string]*string{
		colDeliveries: &t.deliveries, colLeads: &t.leads, colOutbox: &t.outbox, colGroups: &t.groups, colClaims: &t.claims, colCreations: &t.creations,
		colInstances: &t.instances,
	}
	for col, table := range tables {
		err := r.conn.QueryRowContext(ctx, `SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, col).Scan(table)
		if err != nil {
			return fmt.Errorf("store: finding the table of %s: %w", col, err)
		}
	}
	for _, q := range []string{
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s, %s)`, quoteIdent(t.deliveries+"_app_instance_day"), quoteIdent(t.deliveries), sqlInstance, sqlDay),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(t.leads+"_app_instance"), quoteIdent(t.leads), sqlInstance),
		// The due query's: with the lease and the instance in the index, the entries due but
		// leased (those in flight, or claimed ahead) and those of the instances left out (with
		// their share in flight) are skipped by what the index holds, without reading and
		// parsing each one's document. It replaces an index on the due time alone, and one
		// on the due time and the lease.
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s, %s, %s)`, quoteIdent(t.outbox+"_app_due_lease_instance"), quoteIdent(t.outbox), sqlNext, sqlLease, sqlInstance),
		fmt.Sprintf(`DROP INDEX IF EXISTS %s`, quoteIdent(t.outbox+"_app_due")),
		fmt.Sprintf(`DROP INDEX IF EXISTS %s`, quoteIdent(t.outbox+"_app_due_lease")),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(t.groups+"_app_instance"), quoteIdent(t.groups), sqlInstance),
	} {
		if _, err := r.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: indexing for the direct reads: %w", err)
		}
	}
	return nil
}

func (r *sqliteFile) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil
	}
	r.committer.close()
	err := errors.Join(r.conn.Close(), r.committer.writer.Close())
	r.conn, r.committer = nil, nil
	return err
}

// db returns the open file, for reads, and its tables.
func (r *sqliteFile) db() (*sql.DB, sqliteTables, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, sqliteTables{}, errors.New("store: the SQLite file is closed")
	}
	return r.conn, r.tables, nil
}

// reportDeliveries is Pages.ReportDeliveries, with the fields its projection keeps.
func (r *sqliteFile) reportDeliveries(ctx context.Context, instanceID, from, to string) ([]zen7.Delivery, error) {
	conn, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	r.findOn(ctx, colDeliveries)
	q := fmt.Sprintf(`SELECT
		_ferretdb_sjson->>'$._id', _ferretdb_sjson->>'$.kind', _ferretdb_sjson->>'$.state',
		_ferretdb_sjson->>'$.outcome', _ferretdb_sjson->>'$.reason', _ferretdb_sjson->>'$.assistantEmail',
		_ferretdb_sjson->>'$.why.code', _ferretdb_sjson->>'$.why.status', _ferretdb_sjson->>'$.why.afterMs', _ferretdb_sjson->>'$.why.detail',
		_ferretdb_sjson->>'$.finishedAt', _ferretdb_sjson->>'$.retrying',
		_ferretdb_sjson->>'$.prospect.id', _ferretdb_sjson->>'$.prospect.firstName', _ferretdb_sjson->>'$.prospect.lastName',
		_ferretdb_sjson->>'$.routedBy', _ferretdb_sjson->>'$.rule'
		FROM %s WHERE %s = ? AND %s BETWEEN ? AND ?`, quoteIdent(tables.deliveries), sqlInstance, sqlDay)
	rows, err := conn.QueryContext(ctx, q, instanceID, from, to)
	if err != nil {
		return nil, fmt.Errorf("store.ReportDeliveries: %w", err)
	}
	defer rows.Close()
	var out []zen7.Delivery
	for rows.Next() {
		var id, kind, state, outcome, reason, assistant, pid, first, last, routedBy, rule sql.NullString
		var whyCode, whyDetail sql.NullString
		var finished, whyStatus, whyAfter sql.NullInt64
		var retrying sql.NullBool
		if err := rows.Scan(&id, &kind, &state, &outcome, &reason, &assistant, &whyCode, &whyStatus, &whyAfter, &whyDetail, &finished, &retrying, &pid, &first, &last, &routedBy, &rule); err != nil {
			return nil, fmt.Errorf("store.ReportDeliveries: %w", err)
		}
		d := zen7.Delivery{
			ID: id.String, InstanceID: instanceID, Kind: zen7.Kind(kind.String),
			State: zen7.DeliveryState(state.String),

			Prospect: zen7.Prospect{ID: pid.String, FirstName: first.String, LastName: last.String},
			Result: zen7.Result{
				Outcome: zen7.Outcome(outcome.String), AssistantEmail: assistant.String, Retrying: retrying.Bool,
				RoutedBy: zen7.RoutedBy(routedBy.String), Rule: rule.String,
			},
		}
		var why *reasonDoc
		if whyCode.Valid {
			why = &reasonDoc{Code: whyCode.String, Status: int(whyStatus.Int64), AfterMS: whyAfter.Int64, Detail: whyDetail.String}
		}
		d.Reason = toReason(why, reason.String)
		if finished.Valid {
			d.FinishedAt = time.UnixMilli(finished.Int64).UTC()
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store.ReportDeliveries: %w", err)
	}
	return out, nil
}

// forwardedLeads is Pages.ForwardedLeads, with the fields its projection keeps.
func (r *sqliteFile) forwardedLeads(ctx context.Context, instanceID string) ([]zen7.Lead, error) {
	conn, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	r.findOn(ctx, colLeads)
	q := fmt.Sprintf(`SELECT _ferretdb_sjson->>'$.prospectId', _ferretdb_sjson->>'$.state',
		_ferretdb_sjson->>'$.sevenTargetsState', _ferretdb_sjson->>'$.updatedAt'
		FROM %s WHERE %s = ? AND _ferretdb_sjson->>'$.state' IN (?, ?)`, quoteIdent(tables.leads), sqlInstance)
	rows, err := conn.QueryContext(ctx, q, instanceID, string(zen7.LeadForwarded), string(zen7.LeadStopped))
	if err != nil {
		return nil, fmt.Errorf("store.ForwardedLeads: %w", err)
	}
	defer rows.Close()
	var out []zen7.Lead
	for rows.Next() {
		var pid, state, stState sql.NullString
		var updated sql.NullInt64
		if err := rows.Scan(&pid, &state, &stState, &updated); err != nil {
			return nil, fmt.Errorf("store.ForwardedLeads: %w", err)
		}
		l := zen7.Lead{InstanceID: instanceID, ProspectID: pid.String, State: zen7.LeadState(state.String), SevenTargetsState: stState.String}
		if updated.Valid {
			l.UpdatedAt = time.UnixMilli(updated.Int64).UTC()
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store.ForwardedLeads: %w", err)
	}
	return out, nil
}

// groupIDs are the ids of the groups mapped to instance instanceID (see instanceGroups).
func (r *sqliteFile) groupIDs(ctx context.Context, instanceID string) ([]string, error) {
	conn, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	r.findOn(ctx, colGroups)
	q := fmt.Sprintf(`SELECT _ferretdb_sjson->>'$._id' FROM %s WHERE %s = ?`, quoteIdent(tables.groups), sqlInstance)
	rows, err := conn.QueryContext(ctx, q, instanceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// outboxStats is Outbox.Stats: how many entries the outbox holds, and the creation time of the
// one it has held longest (the first stored: SQLite gives each row a rowid above every other
// present). Through FerretDB the count and the oldest each decode every entry, which with a
// backlog of thousands took a third of the App's CPU while the worker drained it; SQLite
// counts the rows, and finds the first stored, without reading a document.
func (r *sqliteFile) outboxStats(ctx context.Context) (int, time.Time, error) {
	conn, tables, err := r.db()
	if err != nil {
		return 0, time.Time{}, err
	}
	r.commandOn(ctx, "aggregate", colOutbox) // CountDocuments
	var n int
	if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %s`, quoteIdent(tables.outbox))).Scan(&n); err != nil {
		return 0, time.Time{}, err
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	r.findOn(ctx, colOutbox)
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(`SELECT _ferretdb_sjson FROM %s ORDER BY rowid LIMIT 1`, quoteIdent(tables.outbox)))
	if err != nil {
		return 0, time.Time{}, err
	}
	docs, err := scanDocs[deliveryDoc](rows)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("reading the outbox's first entry: %w", err)
	}
	if len(docs) == 0 {
		// Emptied between the two reads: the caller asks again, through the driver.
		return 0, time.Time{}, errors.New("the outbox emptied while it was counted")
	}
	return n, utc(docs[0].CreatedAt), nil
}

// due is Outbox.Due: the outbox entries due at now, not leased, of no instance in except, by
// nextAttemptAt, at most n. SQLite walks the due index from the oldest entry and stops after n.
func (r *sqliteFile) due(ctx context.Context, now time.Time, n int, except []string) ([]deliveryDoc, error) {
	conn, tables, err := r.db()
	if err != nil {
		return nil, err
	}
	ms := now.UnixMilli()
	args := []any{ms, ms}
	notIn := ""
	if len(except) > 0 {
		notIn = " AND " + sqlInstance + " NOT IN (?" + strings.Repeat(",?", len(except)-1) + ")"
		for _, id := range except {
			args = append(args, id)
		}
	}
	args = append(args, n)
	q := fmt.Sprintf(`SELECT _ferretdb_sjson FROM %s WHERE %s <= ? AND %s <= ?%s ORDER BY %s LIMIT ?`,
		quoteIdent(tables.outbox), sqlNext, sqlLease, notIn, sqlNext)
	r.findOn(ctx, colOutbox)
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanDocs[deliveryDoc](rows)
}
