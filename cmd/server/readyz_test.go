package main

import (
	"net/http"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadyzWhenTheStoreCannotWrite: /readyz answers 503 while the store cannot write, a full
// disk as much as a stopped database, and 200 again once it can. The disk is "full" for the
// process alone: its file size limit (RLIMIT_FSIZE) is lowered to one byte, so every write to
// a file fails as on a full disk, while reads and the store's pings go on working.
func TestReadyzWhenTheStoreCannotWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	t.Parallel()
	f := newFakes(t)
	p := startProcess(t, f.env(map[string]string{"DATA_DIR": t.TempDir()}))
	f.setUp(t, p, "proc-full-disk-key-0001") // something written before the disk fills up

	var unlimited unix.Rlimit
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_FSIZE, nil, &unlimited); err != nil {
		t.Fatal(err)
	}
	full := unix.Rlimit{Cur: 1, Max: unlimited.Max}
	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_FSIZE, &full, nil); err != nil {
		t.Skipf("cannot lower the file size limit of the App's process: %v", err)
	}
	waitForWithin(t, 30*time.Second, "/readyz to answer 503 with the disk full", func() bool { return readyz(t, p) == http.StatusServiceUnavailable })

	if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_FSIZE, &unlimited, nil); err != nil {
		t.Fatal(err)
	}
	waitForWithin(t, 30*time.Second, "/readyz to answer 200 with space again", func() bool { return readyz(t, p) == http.StatusOK })
}

func readyz(t *testing.T, p *process) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(p.url + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
