//go:build linux

package storetest

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// fsImmutableFL is FS_IMMUTABLE_FL of linux/fs.h, which x/sys/unix does not define: no file
// can be created in a directory carrying it, by root either.
const fsImmutableFL = 0x10

// ReadOnlyDir returns an existing directory this process cannot write into, as an operator's
// read-only volume is. Mode 0500 is enough for an ordinary user; root ignores modes, so for
// root the directory is also made immutable (and mutable again when tb ends, to be removed).
// It skips tb when neither works.
func ReadOnlyDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if !writable(dir) {
		return dir
	}
	f, err := os.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsImmutableFL))
	}
	if err != nil {
		tb.Skipf("cannot make a directory read-only for this user: %v", err)
	}
	tb.Cleanup(func() {
		f, err := os.Open(dir)
		if err != nil {
			tb.Errorf("storetest: %v", err)
			return
		}
		defer f.Close()
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
			tb.Errorf("storetest: making %s mutable again: %v", dir, err)
		}
	})
	if writable(dir) {
		tb.Skip("cannot make a directory read-only for this user")
	}
	return dir
}
