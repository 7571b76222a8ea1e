//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlstore

import (
	"errors"
	"os"
	"syscall"
)

// bulkLocks says that lockBulk can tell a running bulk load from an
// abandoned one here.
const bulkLocks = true

// lockBulk takes the bulk-load lock of the database at path, an flock on
// path + "-bulk", without waiting: ok is false while another holds it
// (another process, or another DB on the same file). Closing the file
// releases it, and so does the death of the process. The file is left in
// place: removing it would let a process that opened it before the
// removal lock a different file than the next load.
func lockBulk(path string) (f *os.File, ok bool, err error) {
	f, err = os.OpenFile(path+"-bulk", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}
