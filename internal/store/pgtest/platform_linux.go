package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverUser returns the user to run the server programs as: postgres when
// this process is root, which the programs refuse to run as; nil otherwise.
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which PostgreSQL refuses, and no postgres user to run it as: %w", err)
	}
	uid, uidErr := strconv.Atoi(u.Uid)
	gid, gidErr := strconv.Atoi(u.Gid)
	if err := errors.Join(uidErr, gidErr); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &osUser{uid: uid, gid: gid}, nil
}

// procAttr runs a program as u. A server started with dieWithParent gets
// SIGQUIT, an immediate shutdown, when the test process ends, however it
// ends; that is all an orphaned throw-away server deserves.
func procAttr(u *osUser, dieWithParent bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if u != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
	}
	if dieWithParent {
		attr.Pdeathsig = syscall.SIGQUIT
	}
	return attr
}

const (
	dirPattern = "emr-pgtest-*"
	lockName   = "pgtest.lock"
)

// lockDir marks a cluster directory as in use for as long as this process
// lives: the kernel drops the lock when the process dies, however it dies,
// which is how sweepStale tells an abandoned directory from a live one. The
// lock file is opened close-on-exec, so the server does not inherit it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, nil
}

// sweepStale removes the cluster directories that test processes left
// behind when they died without cleaning up (a panic, a timeout, a kill).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern))
	for _, dir := range dirs {
		lockPath := filepath.Join(dir, lockName)
		// A young directory may be one whose owner has not locked it yet.
		if info, err := os.Stat(lockPath); err != nil || time.Since(info.ModTime()) < time.Minute {
			continue
		}
		f, err := os.Open(lockPath)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil && !postmasterAlive(dir) {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}

// postmasterAlive reports whether the server of an abandoned directory still
// runs, having somehow missed its parent-death signal; its directory is then
// left alone.
func postmasterAlive(dir string) bool {
	content, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.SplitN(string(content), "\n", 2)[0])
	if err != nil {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
