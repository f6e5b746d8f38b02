package quota

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Config is what a Key needs of the Transport's options. The Key keeps a
// pointer to it: it must not change once a Key uses it.
type Config struct {
	// Used is how to read the vendor's X-ratelimit-used.
	Used UsedMeaning
	// Burst is the share of a window's quota that may go at once (the
	// Transport's WithBurst); negative: the default (see burstFor).
	Burst float64
	// MaxWait is the longest a request waits for its quota, and the
	// longest between two probes of a key that hears nothing.
	MaxWait time.Duration
	// BackoffBase is the shortest pause after a 429 that does not say the
	// quota is spent.
	BackoffBase time.Duration
	// Retried reports whether a 429 to attempt n of req would be
	// retried; nil: never. Only such a request tests a spent window (see
	// spent.go), so that the test's 429 reaches no caller. It is asked
	// only then, off the path of a routine request.
	Retried func(req *http.Request, n int) bool
}

// UsedMeaning says how to read the vendor's X-ratelimit-used header.
type UsedMeaning int

// Want is what a request asks of its quota.
type Want struct {
	// Prio orders the requests that wait: higher first. A negative one is
	// a batch request, which the batch reserve holds back (see
	// reserveHolds).
	Prio int8
	// Attempt is the request's attempt number (1 for the first), and Req
	// the request (nil when unknown), for Config.Retried.
	Attempt int32
	// Cost is how many requests of the quota it counts for, at least one.
	Cost int64
	// Tokens is the tokens it declares, for token quotas (see gates.go).
	Tokens int64
	Req    *http.Request
}

// laneOK reports whether a request of w may take a lane's ticket: one of
// default or higher priority, costing one, declaring no tokens.
func (w Want) laneOK() bool { return w.Prio >= 0 && w.Cost == 1 && w.Tokens == 0 }

// WaitError is the refusal of a request whose wait for its quota could not
// end in time: Wait is how long it would have waited, and Err is
// context.DeadlineExceeded when the request's deadline, rather than the
// maximum wait, is what it would have passed.
type WaitError struct {
	Wait time.Duration
	Err  error
}

func (e *WaitError) Error() string {
	if e.Err != nil {
		return "quota needs a wait of " + e.Wait.String() + ": " + e.Err.Error()
	}
	return "quota needs a wait of " + e.Wait.String()
}

func (e *WaitError) Unwrap() error { return e.Err }

// Key is the state of one quota key. The zero value is not usable; see
// [Key.Init].
type Key struct {
	cfg *Config

	mu sync.Mutex

	// Pacing. lim and changed are replaced together (gen counts them);
	// rate and burst are what lim was made with. lane is the open lane, if
	// any; after the limiter refused a lane's tokens, laneWait counts the
	// single draws before the next try.
	lim      *rate.Limiter
	rate     rate.Limit
	burst    int
	gen      uint64
	changed  chan struct{}
	lane     atomic.Pointer[lane]
	laneWait int

	// What the server said. limit == 0 means no quota is known: either no
	// response yet (see heard) or a server that sends no quota headers.
	// probe says which request, if any, is in flight alone to learn
	// something the others wait for.
	probe   probeState
	limit   int64
	window  time.Duration
	dialect uint8
	vendor  bool        // the dialect is the vendor's: its count's meaning is Config.Used
	meaning UsedMeaning // resolved meaning; UsedAuto while undecided
	autoVal int64       // first raw value seen in auto mode, -1 when none
	autoSeq uint64

	// Window estimate. resetAt is the estimated end of the current window.
	resetAt   time.Time
	resetFrom resetSource // who said resetAt: our estimate or the server
	// resetBase is the first of the resets the server sent since the
	// last that stepped back or by half a window (see recede).
	resetBase time.Time
	phase     phase // when windows reset, as far as answers showed
	// family is the kind of limiter the answers have shown so far,
	// among those whose quota is known (see family.go): unknown until a
	// reset or a slide shows itself, and treated as a fixed window
	// meanwhile.
	family Family
	// refill measures a bucket's refill (see refill.go), where one is
	// known or likely: the pace and the budget's earning use it where it
	// beats the window's rate, since a bucket's refill may be faster than
	// its capacity per window.
	refill refillMeter
	// sends bounds what a sliding window can have freed (see
	// sendlog.go): the requests taken under mu, by instant. It is made
	// once the quota's limit and window are known (4 KiB: a key whose
	// server sends no quota pays nothing).
	sends *sendLog

	// Budget. seq numbers the requests as they take their slot; it is
	// atomic for the lane.
	seq         atomic.Uint64
	winFirstSeq uint64     // first seq sent in the current window
	news        windowNews // what was heard of the current window
	anchorSeq   uint64
	anchorRem   int64
	anchorSent  time.Time
	otherRate   float64 // requests per second others take from the quota (EWMA)
	pauseUntil  time.Time
	heardAt     time.Time // when the newest response was read; zero before the first
	// windowFrom says where window came from (see windowSource).
	windowFrom windowSource
	lastTake   time.Time // when take last handed out a Ticket
	// retryProbe: a 429 asked for a Retry-After far shorter than the
	// spent budget's believed refill; a probe tests the belief then.
	retryProbe time.Time
	// catchRate is added to a sliding window's pace until catchUntil,
	// to spend the slots a probing episode held back (see catchUp).
	catchRate  rate.Limit
	catchUntil time.Time
	// test is the spent-window test's state, due at testAt (see
	// spent.go).
	test   spentTest
	testAt time.Time

	// newsNext is one more than the seq of the newest response whose
	// limit, window and dialect were applied (0: none yet): an older
	// response arriving late changes none.
	newsNext uint64

	// guard is the safety net: one request at a time after a 429 the
	// model did not foresee, and a ceiling on the pace (see Guard).
	guard Guard

	// gates are the policies of the newest multi-policy response other
	// than the binding one (see gates.go); tokenSeq counts the tokens
	// requests declared (TokenCost), atomic for the lane's tickets.
	gates    [MaxPolicies]gate
	ngates   int
	tokenSeq atomic.Int64

	// The newest observation, for reset (jump) detection across windows;
	// none while lastSent is zero.
	lastSeq     uint64
	lastUsed    int64 // limit - remaining, so that a change of limit is no rise
	lastSent    time.Time
	lastOverlap int64
	slotVotes   int  // small rises seen: two make a sliding window
	noisy       bool // the newest response read had anomalies: read every one

	// inflight counts the requests sent and not yet observed. It is atomic so
	// that a skipped observation (see Skip) needs no lock. waiting counts
	// the requests asleep in Acquire.
	inflight atomic.Int64
	waiting  atomic.Int64

	// The requests waiting in Acquire, in arrival order (see the engine
	// notes in doc.go); queued counts them.
	head, tail *waiter
	queued     int

	// For the Transport's sweep (Idle): one more than seq at the previous
	// sweep; 0 before the first.
	sweptNext uint64
}

// heard reports whether a response was read. It requires q.mu held.
func (q *Key) heard() bool { return !q.heardAt.IsZero() }

// Init makes q a new key under cfg, which q keeps.
func (q *Key) Init(cfg *Config) {
	q.cfg, q.meaning, q.autoVal = cfg, cfg.Used, -1
	q.lim, q.rate, q.burst = rate.NewLimiter(rate.Inf, 1), rate.Inf, 1
	q.changed = make(chan struct{})
}

// Idle reports whether q may be forgotten at now: no request took a slot
// since the previous sweep looked at it, none is in flight or waiting, no
// pause runs, and no window it knows is still running (the budget it holds
// would be full again). seen reports whether a previous sweep looked at q. It
// records q's seq for the next sweep.
//
// A request that looked q up, or woke from a wait, just before q was
// forgotten, and has not taken a slot yet, is paced by q as it was: one
// request, on a quota that had been idle for a whole sweep. A quota forgotten
// also leaves the quota gauges until its key is used again.
func (q *Key) Idle(now time.Time) (idle, seen bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.seq.Load()
	seen = q.sweptNext != 0
	idle = seen && q.sweptNext == seq+1 && q.inflight.Load() == 0 && q.waiting.Load() == 0 &&
		!now.Before(q.pauseUntil) && (q.resetAt.IsZero() || !now.Before(q.resetAt))
	q.sweptNext = seq + 1
	return idle, seen
}

// Ticket identifies one request that took a slot, from Acquire to
// Observe, Skip or Fail.
type Ticket struct {
	seq    uint64
	tokens int64 // tokenSeq after this request took its tokens
	sent   time.Time
	conc   int // requests in flight when it was sent, itself included

	// probe marks the guard's probe (see Guard.Admit); foreseen, a
	// request the model sent knowing its answer may be a 429 (the first
	// request, a window's first, a spent budget's probe).
	probe, foreseen bool

	// routine marks a request paced in a settled model: known quota, decided
	// meaning, no probe, no fresh window to test, fixed windows (not slot
	// mode, whose earning needs every response), and no other client seen
	// taking from the quota (the budget then depends on our own requests
	// alone, so an older anchor only under-estimates it), and no anomaly in
	// the newest response read. Its response may go unread (see Skip);
	// the model as it was at take is in limit, window, dialect and resetAt,
	// to tell whether a response read confirms it.
	routine bool
	dialect uint8
	limit   int64
	window  time.Duration
	resetAt time.Time
}

// Sent is when the request behind t took its slot.
func (t Ticket) Sent() time.Time { return t.sent }
