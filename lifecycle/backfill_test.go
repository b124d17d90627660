package lifecycle_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordedStart is one call of Backfills.Start.
type recordedStart struct {
	Days    int
	Changed bool
}

type fakeBackfills struct {
	mu     sync.Mutex
	starts []recordedStart
}

func (f *fakeBackfills) Start(_ context.Context, _ string, days int, changed bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, recordedStart{days, changed})
	return nil
}

// TestUpdateSettingsStartsBackfill checks which settings updates start a backfill: those that
// save backfillDays above 0, saying whether the value changed; not those that leave it out or
// save 0.
func TestUpdateSettingsStartsBackfill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bf := &fakeBackfills{}
	e.svc.SetBackfills(bf)
	e.install(t, "key-backfill")
	for _, body := range []string{
		`{"backfillDays":7}`,    // starts, changed
		`{"source":"web"}`,      // no backfillDays: nothing
		`{"backfillDays":7}`,    // saved again as it was: starts, unchanged
		`{"backfillDays":0}`,    // 0: nothing
		`{"backfillDays":31.0}`, // starts, changed
		`{"backfillDays":null}`, // back to the default 0: nothing
	} {
		if _, err := e.svc.UpdateSettings(t.Context(), "key-backfill", mustParse(t, body)); err != nil {
			t.Fatalf("UpdateSettings(%s): %v", body, err)
		}
	}
	want := []recordedStart{{7, true}, {7, false}, {31, true}}
	if diff := cmp.Diff(want, bf.starts); diff != "" {
		t.Errorf("backfill starts (-want +got):\n%s", diff)
	}
}
