//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive lock on dir's lock file, without waiting, and returns the file
// that holds it. The lock is the kernel's (flock): it ends with the process, however that
// ends, so a killed store leaves nothing to clean up. The file records the holder's pid, for
// the message another process gets.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &DirError{dir, "is not writable", err}
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b := make([]byte, 16)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "lock " + path
			if pid := string(bytes.TrimSpace(b[:n])); pid != "" {
				holder = "pid " + pid + ", " + holder
			}
			return nil, &DirError{dir, "is in use", fmt.Errorf("%w (%s)", ErrDataDirInUse, holder)}
		}
		return nil, &DirError{dir, "cannot be locked", err}
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
