package lifecycle_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/lifecycle"
)

// The golden file is rewritten with: go test ./lifecycle/ -run SettingsFormGolden -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestSettingsFormGolden pins the form's JSON byte for byte: Sales renders what it gets, so a
// refactoring of how the form is built must not change a character of it. The file holds the
// marshalled form indented; indenting adds only whitespace between tokens, so equal indented
// bytes mean equal compact bytes, which is what the hook serves.
func TestSettingsFormGolden(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(lifecycle.SettingsForm())
	if err != nil {
		t.Fatalf("json.Marshal(SettingsForm()) error = %v", err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	file := filepath.Join("testdata", "settings_form.golden.json")
	if *update {
		if err := os.WriteFile(file, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the golden file (run with -update to write it): %v", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("settings form JSON differs from %s (-want +got):\n%s", file, diff)
	}
}
