package pgtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSweepStale(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	tests := []struct {
		name      string
		locked    bool
		age       time.Duration
		wantSwept bool
	}{
		{"abandoned", false, 2 * time.Minute, true},
		{"in use", true, 2 * time.Minute, false},
		{"young, maybe not locked yet", false, 0, false},
	}
	dirs := make([]string, len(tests))
	for i, tt := range tests {
		dir, err := os.MkdirTemp("", dirPattern)
		if err != nil {
			t.Fatal(err)
		}
		lock, err := lockDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if tt.locked {
			defer lock.Close()
		} else {
			lock.Close()
		}
		then := time.Now().Add(-tt.age)
		if err := os.Chtimes(filepath.Join(dir, lockName), then, then); err != nil {
			t.Fatal(err)
		}
		dirs[i] = dir
	}
	sweepStale()
	for i, tt := range tests {
		_, err := os.Stat(dirs[i])
		if swept := os.IsNotExist(err); swept != tt.wantSwept {
			t.Errorf("%s: got swept %v, want %v", tt.name, swept, tt.wantSwept)
		}
	}
}
