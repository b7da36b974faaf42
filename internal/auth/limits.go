package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LoginLimits bound what logging in may cost the node and how fast
// passwords can be guessed.
//
// The schedule for one account: the first FreeFailures wrong passwords in
// a row cost nothing; after the n-th (n > FreeFailures) the account's next
// attempt must wait FirstDelay·2^(n-FreeFailures-1), capped at MaxDelay,
// and an attempt made sooner is refused (429) without looking at the
// password; the LockAfter-th wrong password locks the account for LockFor,
// which an admin can lift (guidecall guide unlock, POST
// /api/v1/admin/accounts/{id}/unlock). A correct password resets the count.
// With the defaults: 3 free, then 1 s, 2 s, 4 s, 8 s, 16 s, 32 s, and the
// 10th failure locks for 15 minutes.
//
// Independently, one client address may make PerAddressBurst attempts at
// once and PerAddressPerMinute after that, whatever the accounts.
type LoginLimits struct {
	// HashConcurrency is how many password checks run at once. Each
	// argon2id check holds PasswordParams.Memory (19 MiB by default).
	HashConcurrency int
	// HashWait is how long a login waits for a free slot before ErrBusy.
	HashWait time.Duration

	PerAddressPerMinute float64
	PerAddressBurst     int

	FreeFailures int
	FirstDelay   time.Duration
	MaxDelay     time.Duration
	LockAfter    int
	LockFor      time.Duration
}

// DefaultLoginLimits are the limits of NewService.
var DefaultLoginLimits = LoginLimits{
	HashConcurrency:     max(2, runtime.GOMAXPROCS(0)/2),
	HashWait:            2 * time.Second,
	PerAddressPerMinute: 30,
	PerAddressBurst:     10,
	FreeFailures:        3,
	FirstDelay:          time.Second,
	MaxDelay:            5 * time.Minute,
	LockAfter:           10,
	LockFor:             15 * time.Minute,
}

// delayAfter is how long an account with failures consecutive wrong
// passwords must wait since the last one before it may try again.
func (l LoginLimits) delayAfter(failures int) time.Duration {
	n := failures - l.FreeFailures
	if n <= 0 {
		return 0
	}
	d := float64(l.FirstDelay) * math.Pow(2, float64(n-1))
	if d > float64(l.MaxDelay) {
		return l.MaxDelay
	}
	return time.Duration(d)
}

// Schedule lists, for 1..LockAfter consecutive failures, the wait before
// the next attempt; the last entry is the lock. For docs and the CLI.
func (l LoginLimits) Schedule() []time.Duration {
	out := make([]time.Duration, 0, l.LockAfter)
	for f := 1; f < l.LockAfter; f++ {
		out = append(out, l.delayAfter(f))
	}
	return append(out, l.LockFor)
}

// ThrottleError says how long to wait; it wraps ErrThrottled or ErrLocked.
type ThrottleError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("%v; retry in %s", e.Err, e.RetryAfter.Round(time.Second))
}

func (e *ThrottleError) Unwrap() error { return e.Err }

// RetryAfterOf returns the wait carried by a throttling error, or 0.
func RetryAfterOf(err error) time.Duration {
	var te *ThrottleError
	if errors.As(err, &te) {
		return te.RetryAfter
	}
	return 0
}

// hashPool bounds concurrent password checks: argon2id's memory is the
// cost, and unbounded it lets a few dozen requests take a node's RAM.
type hashPool struct {
	slots chan struct{}
	wait  time.Duration
}

func newHashPool(n int, wait time.Duration) *hashPool {
	return &hashPool{slots: make(chan struct{}, max(1, n)), wait: wait}
}

// do runs f when a slot is free, or gives ErrBusy after the wait.
func (p *hashPool) do(ctx context.Context, f func()) error {
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	f()
	return nil
}

// addressLimiter is a token bucket per client address.
type addressLimiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	clients map[string]*rate.Limiter
}

func newAddressLimiter(perMinute float64, burst int) *addressLimiter {
	return &addressLimiter{every: rate.Limit(perMinute / 60), burst: burst, clients: map[string]*rate.Limiter{}}
}

// allow takes a token for addr, or says how long until one is free.
func (l *addressLimiter) allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[addr]
	if !ok {
		// Bounded memory: a flood of distinct addresses resets the table
		// rather than growing it.
		if len(l.clients) >= 100_000 {
			clear(l.clients)
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.clients[addr] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}
