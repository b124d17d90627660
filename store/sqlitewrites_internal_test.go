package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestCommitterUnitsAlone: units written together by the committer each stand alone: a unit
// that fails part way leaves nothing of itself and takes nothing of the others with it, one
// whose caller gave up is not written, and every other is written, whichever transaction it
// shared.
func TestCommitterUnitsAlone(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "units.sqlite")
	writer, err := sql.Open("sqlite", "file:"+file+"?_pragma=journal_mode(wal)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	writer.SetMaxOpenConns(1)
	if _, err := writer.Exec(`CREATE TABLE t (x TEXT NOT NULL UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	r := &sqliteFile{committer: startCommitter(writer)}
	t.Cleanup(func() { r.committer.close(); writer.Close() })

	insert := func(xs ...string) writeWork {
		return func(ctx context.Context, tx *sql.Tx) error {
			for _, x := range xs {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t (x) VALUES (?)`, x); err != nil {
					return err
				}
			}
			return nil
		}
	}
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
	if _, err := writer.Exec(`INSERT INTO t (x) VALUES ('dup')`); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		wg.Go(func() { errs[i] = r.inTx(tt.ctx, tt.work) })
	}
	wg.Wait()
	rows := map[string]bool{}
	res, err := writer.Query(`SELECT x FROM t`)
	if err != nil {
		t.Fatal(err)
	}
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
