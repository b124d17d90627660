package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestCommitterUnitsAlone: units written together by the committer each stand alone: a unit
// that fails part way leaves nothing of itself and takes nothing of the others with it, one
// whose caller gave up is not written, and every other is written, whichever transaction it
// shared.
// unitsFile opens a SQLite file of one table t, with a unique column x holding the row "dup",
// on one connection, as the committer's writer, and returns it with the file's path.
func unitsFile(t *testing.T) (*sql.DB, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "units.sqlite")
	writer, err := sql.Open("sqlite", "file:"+file+"?_pragma=journal_mode(wal)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { writer.Close() })
	writer.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TABLE t (x TEXT NOT NULL UNIQUE)`, `INSERT INTO t (x) VALUES ('dup')`} {
		if _, err := writer.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return writer, file
}

// rowsOf returns the values of t.x.
func rowsOf(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	rows := map[string]bool{}
	res, err := db.Query(`SELECT x FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for res.Next() {
		var x string
		if err := res.Scan(&x); err != nil {
			t.Fatal(err)
		}
		rows[x] = true
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// insertUnit is a unit of work inserting xs into t, one statement each.
func insertUnit(xs ...string) writeWork {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, x := range xs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, x); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestCommitterUnitsAlone(t *testing.T) {
	t.Parallel()
	writer, file := unitsFile(t)
	r := &sqliteFile{committer: startCommitter(writer, file+"-wal")}
	t.Cleanup(r.committer.close)
	insert := insertUnit
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		work    writeWork
		wantErr bool
		written []string // of this unit's rows, those there at the end
	}{
		{"fails part way", context.Background(), insert("half-1", "dup", "half-2"), true, nil},
		{"its caller gave up", canceled, insert("gone"), true, nil},
	}
	for i := range 60 {
		x := fmt.Sprint("ok-", i)
		tests = append(tests, struct {
			name    string
			ctx     context.Context
			work    writeWork
			wantErr bool
			written []string
		}{x, context.Background(), insert(x, x+"-b"), false, []string{x, x + "-b"}})
	}
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() { errs[i] = r.inTx(tt.ctx, tt.work) })
	}
	wg.Wait()
	rows := rowsOf(t, writer)
	want := 1 // "dup"
	for i, tt := range tests {
		if (errs[i] != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want an error: %t", tt.name, errs[i], tt.wantErr)
		}
		for _, x := range tt.written {
			if !rows[x] {
				t.Errorf("%s: %s not written", tt.name, x)
			}
		}
		want += len(tt.written)
	}
	if rows["half-1"] || rows["gone"] {
		t.Errorf("a failed unit left rows behind: %v", rows)
	}
	if len(rows) != want {
		t.Errorf("%d rows, want %d", len(rows), want)
	}
	if err := errs[1]; !errors.Is(err, context.Canceled) {
		t.Errorf("the unit whose caller gave up: %v, want context.Canceled", err)
	}
}

// TestCommitGroupRunsAgainOnFailure: a group runs once, in one transaction without
// savepoints, unless a unit fails; then it runs again, each unit in a savepoint, so that only
// the failed unit is left out. Each unit's runs are counted.
func TestCommitGroupRunsAgainOnFailure(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	type unit struct {
		ctx     context.Context
		xs      []string
		wantErr bool
		runs    int // how often the committer ran it
	}
	ok := func(xs ...string) unit { return unit{context.Background(), xs, false, 1} }
	tests := []struct {
		name  string
		units []unit
	}{
		{"all succeed: one run each", []unit{ok("a"), ok("b", "c"), ok("d")}},
		{"one fails: run again, the others kept", []unit{{context.Background(), []string{"a"}, false, 2}, {context.Background(), []string{"x", "dup"}, true, 2}, ok("b")}},
		{"a lone unit fails: not run again", []unit{{context.Background(), []string{"x", "dup"}, true, 1}}},
		{"a caller gave up: its unit not run", []unit{{canceled, []string{"gone"}, true, 0}, ok("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			writer, _ := unitsFile(t)
			c := &committer{writer: writer}
			runs := make([]int, len(tt.units))
			group := make([]*writeReq, len(tt.units))
			for i, u := range tt.units {
				work := insertUnit(u.xs...)
				group[i] = &writeReq{ctx: u.ctx, work: func(ctx context.Context, tx *sql.Tx) error {
					runs[i]++
					return work(ctx, tx)
				}}
			}
			errs := c.commit(group)
			rows := rowsOf(t, writer)
			want := 1 // "dup"
			for i, u := range tt.units {
				if (errs[i] != nil) != u.wantErr {
					t.Errorf("unit %d: error %v, want an error: %t", i, errs[i], u.wantErr)
				}
				if runs[i] != u.runs {
					t.Errorf("unit %d ran %d times, want %d", i, runs[i], u.runs)
				}
				for _, x := range u.xs {
					if rows[x] != !u.wantErr && x != "dup" {
						t.Errorf("unit %d: row %s written: %t", i, x, rows[x])
					}
				}
				if !u.wantErr {
					want += len(u.xs)
				}
			}
			if len(rows) != want {
				t.Errorf("%d rows, want %d: %v", len(rows), want, rows)
			}
		})
	}
}

// TestCommitterAnswersOnceSynced: units are answered once the WAL file is synced, and, should
// that fail, with an error, as writes that may have landed (they are committed): here the WAL
// file's path cannot be opened. A unit that failed keeps its own error.
func TestCommitterAnswersOnceSynced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		badWAL   bool
		wantSync bool // the committed unit is answered with the sync's error
	}{
		{name: "synced"},
		{name: "the sync fails", badWAL: true, wantSync: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			writer, file := unitsFile(t)
			wal := file + "-wal"
			if tt.badWAL {
				wal = filepath.Join(file, "not-a-directory") // ENOTDIR, not "not there"
			}
			r := &sqliteFile{committer: startCommitter(writer, wal)}
			t.Cleanup(r.committer.close)
			err := r.inTx(context.Background(), insertUnit("a"))
			if got := err != nil && strings.Contains(err.Error(), "syncing"); got != tt.wantSync {
				t.Errorf("committed unit: %v, want a sync error: %t", err, tt.wantSync)
			}
			if err := r.inTx(context.Background(), insertUnit("dup")); err == nil || strings.Contains(err.Error(), "syncing") {
				t.Errorf("failed unit: %v, want its own error", err)
			}
			if rows := rowsOf(t, writer); !rows["a"] {
				t.Error("row a is not committed")
			}
		})
	}
}
