package auth

import (
	"testing"
	"time"
)

func TestLockoutDelay(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, 0}, {4, 0},
		{5, 30 * time.Second},
		{6, time.Minute},
		{7, 2 * time.Minute},
		{9, 8 * time.Minute},
		{10, 15 * time.Minute},
		{11, 15 * time.Minute},
		{1 << 30, 15 * time.Minute}, // no overflow
	}
	for _, tt := range tests {
		if got := (Lockout{}).Delay(tt.failures); got != tt.want {
			t.Errorf("Delay(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
	custom := Lockout{Threshold: 3, BaseDelay: time.Second, MaxDelay: 5 * time.Second}
	for f, want := range map[int]time.Duration{2: 0, 3: time.Second, 4: 2 * time.Second, 5: 4 * time.Second, 6: 5 * time.Second} {
		if got := custom.Delay(f); got != want {
			t.Errorf("custom Delay(%d) = %v, want %v", f, got, want)
		}
	}
}

func TestLockoutAllowed(t *testing.T) {
	last := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		failures int
		now      time.Time
		wantOK   bool
		wantAt   time.Time
	}{
		{"no failures", 0, last, true, last},
		{"below threshold", 4, last, true, last},
		{"at threshold, immediately", 5, last.Add(time.Second), false, last.Add(30 * time.Second)},
		{"at threshold, after delay", 5, last.Add(30 * time.Second), true, last.Add(30 * time.Second)},
		{"capped", 50, last.Add(14 * time.Minute), false, last.Add(15 * time.Minute)},
		{"capped, after", 50, last.Add(15 * time.Minute), true, last.Add(15 * time.Minute)},
		{"window passed", 50, last.Add(24 * time.Hour), true, last.Add(24 * time.Hour)},
		{"clock went back", 6, last.Add(-time.Hour), false, last.Add(time.Minute)},
	}
	for _, tt := range tests {
		ok, at := Lockout{}.Allowed(tt.failures, last, tt.now)
		if ok != tt.wantOK || !at.Equal(tt.wantAt) {
			t.Errorf("%s: got %v, %v; want %v, %v", tt.name, ok, at, tt.wantOK, tt.wantAt)
		}
	}
}

func TestLockoutFail(t *testing.T) {
	last := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l := Lockout{}
	if got := l.Fail(0, time.Time{}, last); got != 1 {
		t.Errorf("first failure: got %d, want 1", got)
	}
	if got := l.Fail(7, last, last.Add(time.Hour)); got != 8 {
		t.Errorf("failure within window: got %d, want 8", got)
	}
	if got := l.Fail(7, last, last.Add(25*time.Hour)); got != 1 {
		t.Errorf("failure after window: got %d, want 1", got)
	}
}

// TestLockoutGuessRate checks the documented claim: at most about a hundred
// guesses a day by an attacker who always waits exactly as long as required.
func TestLockoutGuessRate(t *testing.T) {
	l := Lockout{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := now.Add(24 * time.Hour)
	failures, last, guesses := 0, time.Time{}, 0
	for now.Before(end) {
		if ok, at := l.Allowed(failures, last, now); !ok {
			now = at
			continue
		}
		guesses++
		failures, last = l.Fail(failures, last, now), now
	}
	if guesses < 90 || guesses > 110 {
		t.Errorf("got %d guesses a day, want about 100", guesses)
	}
}
