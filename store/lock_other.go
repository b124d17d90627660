//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package store

import (
	"errors"
	"os"
)

// lockDir refuses: without flock nothing keeps a second store off the directory, and two
// stores on one set of SQLite files corrupt each other's updates.
func lockDir(dir string) (*os.File, error) {
	return nil, &DirError{dir, "cannot be locked", errors.New("the embedded store needs flock (Linux, macOS or a BSD); set MONGODB_URI")}
}
