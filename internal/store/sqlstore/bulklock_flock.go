//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlstore

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// sqliteBulkLock is an flock on the database's path + "-bulk", taken
// without waiting: held by another process, or by another DB on the same
// file (flock is per open file), it is refused. Closing the file releases
// it, and so does the death of the process. The file is left in place:
// removing it would let a process that opened it before the removal lock
// another file than the next load.
var sqliteBulkLock = &bulkLock{
	try: func(_ context.Context, db *DB) (bool, error) {
		f, err := os.OpenFile(db.where+"-bulk", os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return false, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return false, nil
			}
			return false, err
		}
		db.bulk.file = f
		return true, nil
	},
	release: func(_ context.Context, db *DB) {
		if db.bulk.file != nil {
			db.bulk.file.Close()
			db.bulk.file = nil
		}
	},
}
