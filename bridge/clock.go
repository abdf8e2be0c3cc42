package bridge

import (
	"context"
	"time"

	"github.com/mssbridge/mssbridge/store"
)

// The clock may jump: an NTP correction after months of drift, a virtual machine restored
// from a snapshot, an administrator fixing the date by hand. The bridge stores wall-clock
// times (retry times, first tries) because they must survive restarts, so a jump must never
// strand a document (a retry set a day ahead by a clock that then went back a day) nor fail
// one for good (a first try "three days ago" because the clock went three days forward).

// clockJumpThreshold: a difference between wall-clock and monotonic time past this is a jump,
// not drift or the scheduler's delay (NTP slews small errors, steps only large ones).
const clockJumpThreshold = time.Minute

// clockJump returns how far the wall clock moved beyond the monotonic clock between two
// readings of time.Now: zero when it did not jump.
func clockJump(prev, now time.Time) time.Duration {
	d := now.Round(0).Sub(prev.Round(0)) - now.Sub(prev)
	if d > -clockJumpThreshold && d < clockJumpThreshold {
		return 0
	}
	return d
}

// latestRetry is the furthest in the future a backoff can set a retry: the cap and its jitter.
func (b *Bridge) latestRetry(now time.Time) time.Time {
	return now.Add(b.cfg.Sending.RetryMax*11/10 + time.Second)
}

// settleClock brings back to now the retries that lie further ahead than any backoff can set:
// the clock went back since they were scheduled. It runs at start and after a jump.
func (b *Bridge) settleClock(ctx context.Context) {
	now := b.now()
	n, err := b.store.Reschedule(ctx, store.StateRouted, b.latestRetry(now), now)
	if err != nil {
		b.log.Error("reschedule retries after a clock change", "err", err)
		return
	}
	if n > 0 {
		b.log.Warn("retries were set further ahead than any backoff allows (the clock went back): due now", "jobs", n)
	}
}

// minTriesBeforeGiveUp is how many tries a server answering 4xx all along gets within
// give_up_after, counted with the longest delays (backoff with its jitter, plus the longest a
// try may take). A job is failed for good only when both its first try is older than
// give_up_after and it was tried this often: a clock jumping forward, or a bridge stopped for
// a weekend, does not fail a document that was not actually retried.
func (b *Bridge) minTriesBeforeGiveUp() int {
	s := b.cfg.Sending
	perTry := 2*s.Timeout + 10*time.Second
	var elapsed time.Duration
	n := 1
	for ; elapsed < s.GiveUpAfter && n < 10000; n++ {
		elapsed += plainBackoff(s.RetryInitial, s.RetryMax, n)*11/10 + perTry
	}
	return max(n-1, 1)
}

// giveUp reports whether a job that failed temporarily has been retried long enough.
func (b *Bridge) giveUp(j store.Job) bool {
	return b.now().Sub(j.FirstTryAt) > b.cfg.Sending.GiveUpAfter && j.Tries >= b.minTriesBeforeGiveUp()
}
