//go:build !linux

package storetest

import (
	"os"
	"testing"
)

// ReadOnlyDir returns an existing directory this process cannot write into, as an operator's
// read-only volume is; it skips tb when mode 0500 does not stop this user (root).
func ReadOnlyDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if writable(dir) {
		tb.Skip("cannot make a directory read-only for this user")
	}
	return dir
}
