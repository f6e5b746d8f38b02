package redisquota

import (
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/ratehttp/ratehttp"
)

// Lease sizing. A lease is at most a 400th of the quota's limit (at least
// 1, at most maxLeaseCap). The fleet's GCRA lets a lease go up to two
// leases ahead of its schedule (its burst), so that the time a Redis round
// trip takes is not lost to the fleet's pace; and it books leases up to
// horizonLeases ahead of that, so that processes queue for their next lease
// in Redis, in the order they asked, instead of polling for it. The fleet's
// rate is the limit less a reserve: the burst, and at least a 128th of the
// limit.
const (
	leaseShare    = 400
	maxLeaseCap   = 64
	horizonLeases = 32
	reserveShare  = 128
)

// gcra is the GCRA that paces a fleet under one quota.
type gcra struct {
	// limit is passed to redis_rate. Its Rate is the quota's limit less
	// the reserve, and its Burst is ahead plus the horizon of the bookings.
	limit redis_rate.Limit
	// lease is the most requests drawn at once.
	lease int
	// ahead is the GCRA's true burst: how many requests may go ahead of
	// the schedule; a booking is due when it is no more than that ahead.
	ahead int
}

// shape returns the GCRA that paces a fleet under quota q. maxLease
// overrides the lease's default size when positive.
//
// A GCRA at rate r per window with burst b lets b + r requests into any
// span of one window: into one window of a server's fixed window, or into
// a sliding one. So the rate is at most the limit less the burst, and the
// fleet never sends more than the limit in a window, also just after an
// idle spell when the GCRA's bucket is full. In a steady stream the bucket
// is empty and a window holds at most r plus one lease: the rest of the
// reserve is slack for the time between the GCRA's schedule and the
// server's count (latency, and the Transports' own models, which hold a
// request when the server's remaining nears 0, as it does in a sliding
// window that the fleet keeps full).
func shape(q ratehttp.SharedQuota, maxLease int) gcra {
	l := int(min(q.Limit, 1<<30))
	n := maxLease
	if n <= 0 {
		n = min(max(l/leaseShare, 1), maxLeaseCap)
	}
	ahead := 2 * n
	reserve := max(ahead, l/reserveShare)
	if l-reserve < l*3/4 {
		// A quota of a few requests: one at a time.
		n, ahead, reserve = 1, 1, 1
	}
	return gcra{
		limit: redis_rate.Limit{Rate: max(l-reserve, 1), Burst: ahead + horizonLeases*n, Period: q.Window},
		lease: n,
		ahead: ahead,
	}
}

// interval is the GCRA's emission interval: the time it earns one request.
func (g gcra) interval() time.Duration {
	return g.limit.Period / time.Duration(g.limit.Rate)
}

// due returns when a booking is due, given redis_rate's ResetAfter for it
// (the time from now to the end of the booked slots): when the bookings
// are no more than ahead requests ahead of the schedule.
func (g gcra) due(now time.Time, resetAfter time.Duration) time.Time {
	return now.Add(resetAfter - time.Duration(g.ahead)*g.interval())
}

// lifetime is how long a lease stays good once due: the time the GCRA
// takes to earn its burst, and at least minLifetime (the goroutines
// waiting for it may wake that late). A request sent much later than the
// GCRA scheduled it lands in a bunch with those sent on time, and could
// land in a later window of the server than the GCRA counted it in: a
// lease that lapses costs the fleet its requests, a bunch can cost a 429.
func (g gcra) lifetime() time.Duration {
	return max(time.Duration(g.ahead)*g.interval(), minLifetime)
}

// minLifetime is the shortest lifetime of a lease.
const minLifetime = 5 * time.Millisecond

// lease is the part of one key's shared budget that this process holds,
// and what it knows of when to ask for more. Its methods take the current
// time; it has no lock of its own (the key's mu guards it).
type lease struct {
	tokens    int       // requests left
	due       time.Time // when they may go
	expires   time.Time // when they lapse
	size      int       // requests to ask for at the next draw; 0 means 1
	notBefore time.Time // Redis has nothing for us before then
}

// take takes one request from l at now. It reports whether it took one;
// if not, how long to wait for the lease held to be due (0 when none is
// held), and how many requests lapsed unused (a lease past its lifetime).
//
// A lease used up before it lapsed doubles the next one's size, and one
// that lapsed halves it: the size follows this process's demand, up to the
// largest lease shape allows.
func (l *lease) take(now time.Time) (ok bool, wait time.Duration, lapsed int) {
	if l.tokens == 0 {
		return false, 0, 0
	}
	if now.Before(l.due) {
		return false, l.due.Sub(now), 0
	}
	if !now.Before(l.expires) {
		lapsed, l.tokens = l.tokens, 0
		l.size = max(l.size/2, 1)
		return false, 0, lapsed
	}
	l.tokens--
	if l.tokens == 0 {
		l.size = max(2*l.size, 2)
	}
	return true, 0, 0
}

// want returns the size of the next lease, at most n.
func (l *lease) want(n int) int {
	l.size = min(max(l.size, 1), n)
	return l.size
}

// grant adds n requests booked in Redis, due at due and good for life
// after that.
func (l *lease) grant(n int, due time.Time, life time.Duration) {
	if n <= 0 {
		return
	}
	l.tokens += n
	l.due = due
	l.expires = due.Add(life)
	l.notBefore = time.Time{}
}

// deny records that Redis can grant the next lease no sooner than retry
// after now.
func (l *lease) deny(now time.Time, retry time.Duration) {
	l.notBefore = now.Add(max(retry, minRetry))
}

// minRetry bounds how soon a denied draw is asked again, whatever Redis
// says.
const minRetry = 100 * time.Microsecond

// unused returns the requests left in l at now, and empties it.
func (l *lease) unused(now time.Time) int {
	n := 0
	if now.Before(l.expires) {
		n = l.tokens
	}
	l.tokens = 0
	return n
}
