package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/testport"
	"github.com/7targets/zenvia-sales-app/store/storetest"
)

// TestSecondProcessOnOneDataDir: the embedded store's DATA_DIR belongs to one process; a
// second one started on it, in production or development mode, exits at once with one line
// saying so, and the first goes on serving.
func TestSecondProcessOnOneDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	f := newFakes(t)
	tests := []struct {
		name string
		env  func(dir string) map[string]string
	}{
		{name: "production on the embedded store", env: func(dir string) map[string]string { return f.env(map[string]string{"DATA_DIR": dir}) }},
		{name: "development mode", env: func(dir string) map[string]string { return map[string]string{"DATA_DIR": dir} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			first := startProcess(t, tt.env(dir))
			// The same PUBLIC_BASE_URL: only the directory is at stake.
			second := withEnv(first.env, map[string]string{"PORT": strconv.Itoa(testport.Free(t)), "PUBLIC_BASE_URL": first.url})
			began := time.Now()
			stdout, stderr, err := runOnce(t, second, 30*time.Second, "-test.run=^$")
			refused(t, "a second process on DATA_DIR "+dir, stdout, stderr, err)
			oneLine(t, "the second process", stderr, "DATA_DIR "+dir, "in use")
			if d := time.Since(began); d > 10*time.Second {
				t.Errorf("the second process took %v to give up; it should be at once", d)
			}
			res, err := http.Get(first.url + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("the first process after the second's attempt: readyz %d", res.StatusCode)
			}
		})
	}
}

// TestStartErrorsNameTheVariable: what stops the process at start names the variable at fault
// and says what is wrong with it, in one line.
func TestStartErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	f := newFakes(t)
	readOnly := storetest.ReadOnlyDir(t)
	tests := []struct {
		name string
		env  map[string]string
		want string // the line's beginning
	}{
		{name: "development mode in a read-only DATA_DIR", env: map[string]string{"DATA_DIR": readOnly},
			want: "DATA_DIR " + readOnly + " is not writable: "},
		{name: "embedded store in a read-only DATA_DIR", env: f.env(map[string]string{"DATA_DIR": readOnly, "PUBLIC_BASE_URL": "https://app.example.com"}),
			want: "DATA_DIR " + readOnly + " is not writable: "},
		{name: "unreachable MONGODB_URI", env: f.env(map[string]string{"MONGODB_URI": "mongodb://127.0.0.1:1/", "PUBLIC_BASE_URL": "https://app.example.com"}),
			want: "MONGODB_URI: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.env["PORT"] = "0"
			err := run(context.Background(), env(tt.env), &lockedBuffer{}, &lockedBuffer{}, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("run = %v; want one line starting %q", err, tt.want)
			}
		})
	}
}
