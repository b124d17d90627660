package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// collections are every collection the App uses.
var collections = []string{
	colInstances, colAPIKeys, colAudit, colOutbox, colDeliveries, colClaims, colLeads, colCreations, colGroups, colNonces,
	colBackfills, colBackfillClaims, colChatTonic, colChatTonicClaims,
}

// indexIDLookups works around FerretDB v1's SQLite backend: it indexes _id on the expression
// _ferretdb_sjson->"_id" but filters finds, updates and deletes by _id on
// _ferretdb_sjson->'$._id', and SQLite uses an expression index only for the same expression.
// So every lookup by _id read the whole table (about 100 ms at 10,000 instances, measured by
// cmd/loadgen). This adds an index on the expression the queries use to each of the App's
// tables; SQLite keeps it up to date and drops it with its table, and FerretDB never sees it.
func (e *Embedded) indexIDLookups(ctx context.Context, db *mongo.Database) error {
	for _, name := range collections {
		// FerretDB creates tables lazily; create them now so that each gets its index.
		if err := db.CreateCollection(ctx, name); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("store: creating %s: %w", name, err)
		}
	}
	file := filepath.Join(e.dir, db.Name()+".sqlite")
	conn, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("store: opening %s: %w", file, err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return fmt.Errorf("store: listing tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`, quoteIdent(t+"_app_id_lookup"), quoteIdent(t))
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: indexing %s: %w", t, err)
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}
