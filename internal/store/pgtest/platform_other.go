//go:build !linux

package pgtest

import (
	"os"
	"syscall"
)

// Off Linux the server programs run as this process's user, without a
// parent-death signal, and nothing sweeps the directories of test processes
// that died without cleaning up: run the tests through Main.

const dirPattern = "emr-pgtest-*"

func serverUser() (*osUser, error) { return nil, nil }

func procAttr(*osUser, bool) *syscall.SysProcAttr { return nil }

func lockDir(string) (*os.File, error) { return nil, nil }

func sweepStale() {}
