package auth

import "time"

// Lockout is a back-off policy for failed logins to one account. The first
// Threshold failures cost nothing; each further failure doubles the wait
// before the next attempt, from BaseDelay up to MaxDelay; failures older
// than Window are forgotten. With the defaults (5, 30 s, 15 min, 24 h) the
// waits after failures 5, 6, 7, … are 30 s, 1 min, 2 min, 4 min, 8 min,
// 15 min, 15 min, …, which holds an online guesser to about a hundred
// guesses a day while a real user who mistypes is barely slowed.
//
// The account is never locked for good: a permanent lock would let anyone
// who knows a user name lock its owner out. Pair this with a per-IP limit
// at the HTTP layer.
//
// Lockout is pure: the caller stores, per account, the number of
// consecutive failures and the time of the last one. Before checking a
// password it calls Allowed; while the attempt is not allowed it answers
// "try again at …" without checking the password (so a blocked attempt
// neither counts nor reveals whether the password was right). After a
// wrong password it stores Fail's result and the current time; after a
// right one it stores 0. The zero value is the default policy.
type Lockout struct {
	Threshold int           // failures allowed without delay; 0 means 5
	BaseDelay time.Duration // first delay; 0 means 30 s
	MaxDelay  time.Duration // longest delay; 0 means 15 min
	Window    time.Duration // failures older than this are forgotten; 0 means 24 h
}

func (l Lockout) withDefaults() Lockout {
	if l.Threshold <= 0 {
		l.Threshold = 5
	}
	if l.BaseDelay <= 0 {
		l.BaseDelay = 30 * time.Second
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = 15 * time.Minute
	}
	if l.MaxDelay < l.BaseDelay {
		l.MaxDelay = l.BaseDelay
	}
	if l.Window <= 0 {
		l.Window = 24 * time.Hour
	}
	return l
}

// Delay returns how long after the last of failures consecutive failures
// the next attempt must wait: 0 below the threshold, then BaseDelay
// doubling per further failure, capped at MaxDelay.
func (l Lockout) Delay(failures int) time.Duration {
	l = l.withDefaults()
	if failures < l.Threshold {
		return 0
	}
	d := l.BaseDelay
	for i := l.Threshold; i < failures && d < l.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.MaxDelay)
}

// Allowed reports whether a login attempt at now may proceed, given the
// stored count of consecutive failures and the time of the last one. When
// it may not, allowedAt is the earliest time it may (for a Retry-After
// header); when it may, allowedAt is now.
func (l Lockout) Allowed(failures int, lastFailure, now time.Time) (ok bool, allowedAt time.Time) {
	failures = l.Failures(failures, lastFailure, now)
	at := lastFailure.Add(l.Delay(failures))
	if failures == 0 || !now.Before(at) {
		return true, now
	}
	return false, at
}

// Failures returns the number of failures that still count at now: the
// stored number, or 0 once Window has passed since the last failure.
func (l Lockout) Failures(failures int, lastFailure, now time.Time) int {
	l = l.withDefaults()
	if failures <= 0 || now.Sub(lastFailure) >= l.Window {
		return 0
	}
	return failures
}

// Fail returns the failure count to store, together with now as the time
// of the last failure, after a wrong password at now.
func (l Lockout) Fail(failures int, lastFailure, now time.Time) int {
	return l.Failures(failures, lastFailure, now) + 1
}
