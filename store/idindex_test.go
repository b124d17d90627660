package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/store"
)

// TestEmbeddedLooksUpIDsByIndex checks that SQLite answers the query FerretDB makes for a find,
// update or delete by _id (WHERE _ferretdb_sjson->'$._id' = ?, see FerretDB's
// metadata.IDColumn) from an index on every table of the App, instead of reading the table.
func TestEmbeddedLooksUpIDsByIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{DataDir: dir, Database: "lookups"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "lookups.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT name, table_name FROM "_ferretdb_collections"`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			t.Fatal(err)
		}
		tables[name] = table
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("%d collections in the store, want every one the App uses: %v", len(tables), tables)
	}
	for name, table := range tables {
		plan := queryPlan(t, conn, `SELECT _ferretdb_sjson FROM "`+table+`" WHERE _ferretdb_sjson->'$._id' = ?`, `"x"`)
		if !strings.Contains(plan, "USING INDEX") {
			t.Errorf("collection %s: a lookup by _id plans as %q, want an index", name, plan)
		}
	}
}

// queryPlan returns how SQLite plans the query q, its steps joined by "; ".
func queryPlan(tb testing.TB, conn *sql.DB, q string, args ...any) string {
	tb.Helper()
	rows, err := conn.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		plan.WriteString(detail + "; ")
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return plan.String()
}
