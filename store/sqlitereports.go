package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// sqliteReports answers the report's two queries on the embedded store straight from its
// SQLite file, through expression indexes it adds there.
//
// FerretDB v1 pushes down to SQLite only a filter on _id alone: any other find reads and decodes
// every document of the collection in Go (about 100 µs each). The report filters deliveries by
// instance and day and lead records by instance, so through FerretDB it cost what is stored,
// not what is in range: about 20 s at 100,000 deliveries, past the server's write timeout.
// Here SQLite reads only the rows in range, from an index, and extracts the few fields the
// report shows. It depends on FerretDB v1's storage (a table per collection, listed in
// _ferretdb_collections, each document as JSON in _ferretdb_sjson, dates as Unix
// milliseconds); TestReportQueriesAgree checks it returns what the MongoDB queries return.
// On MongoDB the same queries are served by the instance_day and instance_state indexes.
type sqliteReports struct {
	file string

	mu                sync.Mutex
	conn              *sql.DB // opened by prepare
	deliveries, leads string  // their tables
}

// The expressions the indexes are built on; a query uses an index only through the same
// expression.
const (
	sqlInstance = `_ferretdb_sjson->>'$.instanceId'`
	sqlDay      = `_ferretdb_sjson->>'$.day'`
)

func newSQLiteReports(dir, database string) *sqliteReports {
	return &sqliteReports{file: filepath.Join(dir, database+".sqlite")}
}

// prepare opens the file, finds the tables and indexes them; the collections must exist.
func (r *sqliteReports) prepare(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		// Read-only in effect: this handle only reads, and creates the indexes below. FerretDB
		// runs the file in WAL mode, so these reads never block its writes.
		conn, err := sql.Open("sqlite", "file:"+filepath.ToSlash(r.file)+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return fmt.Errorf("store: opening %s: %w", r.file, err)
		}
		conn.SetMaxOpenConns(2)
		r.conn = conn
	}
	tables := map[string]*string{colDeliveries: &r.deliveries, colLeads: &r.leads}
	for col, table := range tables {
		err := r.conn.QueryRowContext(ctx, `SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, col).Scan(table)
		if err != nil {
			return fmt.Errorf("store: finding the table of %s: %w", col, err)
		}
	}
	for _, q := range []string{
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s, %s)`, quoteIdent(r.deliveries+"_app_instance_day"), quoteIdent(r.deliveries), sqlInstance, sqlDay),
		fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(r.leads+"_app_instance"), quoteIdent(r.leads), sqlInstance),
	} {
		if _, err := r.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: indexing the report: %w", err)
		}
	}
	return nil
}

func (r *sqliteReports) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil
	}
	err := r.conn.Close()
	r.conn = nil
	return err
}

// db returns the open file and the tables of deliveries and leads.
func (r *sqliteReports) db() (conn *sql.DB, deliveries, leads string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return nil, "", "", errors.New("store: the report's SQLite reader is closed")
	}
	return r.conn, r.deliveries, r.leads, nil
}

// reportDeliveries is Pages.ReportDeliveries, with the fields its projection keeps.
func (r *sqliteReports) reportDeliveries(ctx context.Context, instanceID, from, to string) ([]zen7.Delivery, error) {
	conn, table, _, err := r.db()
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf(`SELECT
		_ferretdb_sjson->>'$._id', _ferretdb_sjson->>'$.kind', _ferretdb_sjson->>'$.state',
		_ferretdb_sjson->>'$.outcome', _ferretdb_sjson->>'$.reason', _ferretdb_sjson->>'$.assistantEmail',
		_ferretdb_sjson->>'$.why.code', _ferretdb_sjson->>'$.why.status', _ferretdb_sjson->>'$.why.afterMs', _ferretdb_sjson->>'$.why.detail',
		_ferretdb_sjson->>'$.finishedAt', _ferretdb_sjson->>'$.retrying',
		_ferretdb_sjson->>'$.prospect.id', _ferretdb_sjson->>'$.prospect.firstName', _ferretdb_sjson->>'$.prospect.lastName',
		_ferretdb_sjson->>'$.routedBy', _ferretdb_sjson->>'$.rule'
		FROM %s WHERE %s = ? AND %s BETWEEN ? AND ?`, quoteIdent(table), sqlInstance, sqlDay)
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
func (r *sqliteReports) forwardedLeads(ctx context.Context, instanceID string) ([]zen7.Lead, error) {
	conn, _, table, err := r.db()
	if err != nil {
		return nil, err
	}
	q := fmt.Sprintf(`SELECT _ferretdb_sjson->>'$.prospectId', _ferretdb_sjson->>'$.state',
		_ferretdb_sjson->>'$.sevenTargetsState', _ferretdb_sjson->>'$.updatedAt'
		FROM %s WHERE %s = ? AND _ferretdb_sjson->>'$.state' IN (?, ?)`, quoteIdent(table), sqlInstance)
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
