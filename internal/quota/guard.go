package quota

import (
	"math"
	"strconv"
	"time"
)

// State is the state of a [Guard].
type State uint8

const (
	// Open: requests go as the model paces them (under the guard's
	// ceiling, if one is set).
	Open State = iota
	// Probing: a 429 came that the model did not foresee; one request at
	// a time goes, each after the previous one's answer and a wait, until
	// an answer that is not a 429 comes back.
	Probing
)

// String returns "open" or "probing".
func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case Probing:
		return "probing"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Constants of the guard's AIMD ceiling, in the shape of CUBIC (RFC 9438),
// which the AWS SDKs' adaptive retry mode also applies to request rates: a
// cut to Beta times the rate that drew the 429 (rmax), then a climb along
// rmax·(1 + C·(t−K)³), flat near rmax and fast far from it, so that an
// estimate too low is corrected within seconds and one near the server's
// rate stays near it. C is relative to rmax, so that the climb takes as long
// at 1 request per second as at 10,000: K = ∛((1−Beta)/C) ≈ 2.5 s, and the
// ceiling stays within 5% of rmax for 3.4 s. Each 429 costs the key its
// Retry-After (a second at nginx's), so a long plateau near the server's
// rate is worth more than a fast climb past it.
//
// rmax is what the server accepted over the last CutSpan, not the last
// second: a bucket lets a client above its rate drain the burst first, and
// a one-second reading then counts the burst as rate, which puts the
// plateau above the server's rate and brings the next 429 within seconds.
//
// A key's first cut is read over the last second, and the climb after it
// uses CFirst, faster (K ≈ 0.7 s): the rate that drew it is the first
// burst's, which says little of the server's rate (a bucket's burst,
// answers still in flight), until a second cut, in steady sending, measures
// it. Where the model does not pace (a server without quota headers), the
// first burst was sent blind and the reading is the burst's size, not a
// rate: that climb has no plateau, it starts from rmax and is convex only,
// rmax·(1 + CFirst·t³), doubling rmax in 1.4 s.
const (
	Beta = 0.85
	C    = 0.01 // per second cubed
	// CFirst replaces C in the climb after a key's first cut.
	CFirst = 0.4
	// CutSpan is the span over which the rate that drew a cut is read,
	// from a key's second cut on.
	CutSpan = 2 * time.Second
	// MinProbeWait is the shortest wait before a probe; the waits double
	// from it: with the 429 that started the episode, the guard's probes
	// draw at most two 429s in any one second. Where the model does not
	// pace (no quota headers, so no window known), the second wait is
	// repeated once (0.5 s, 1 s, 1 s, 2 s, 4 s...): the third probe goes
	// 2.5 s after the 429 rather than 3.5 s, when a window of a couple of
	// seconds has reopened, for one more 429 in a long episode.
	MinProbeWait = 500 * time.Millisecond
	// MaxInFlight bounds the requests in flight of a key whose server
	// sends no quota headers, while the guard holds a ceiling: nothing
	// foretells the end of such a server's window, and every request in
	// flight when it comes is rejected.
	MaxInFlight = 2
	// k is how long the ceiling takes to climb back to rmax, in seconds.
	k      = 2.4662120743304703 // ∛((1−Beta)/C)
	kFirst = 0.7211247851537042 // ∛((1−Beta)/CFirst)
)

// Guard is the safety net of one quota key. It knows nothing of the quota's
// headers: it sees only which answers were 429s, and when. Whatever the
// model believes, after a 429 the model did not foresee:
//   - the key sends one request at a time until an answer that is not a
//     429 comes back (state [Probing]); the wait before each probe is the
//     Retry-After the last 429 gave, else it starts at the slot the caller
//     names and doubles, up to the caller's bound (see [MinProbeWait]);
//   - the key's pace is capped by a ceiling that drops to [Beta] times the
//     rate that drew the 429 (read over [CutSpan]) and climbs back as time
//     passes (see [C]).
//
// The zero value is an open guard with no ceiling. A Guard is not safe for
// concurrent use: its owner serialises calls.
type Guard struct {
	state    State
	since    time.Time     // when the current Probing episode began
	probeOut bool          // Probing: a probe is in flight
	next     time.Time     // Probing: the earliest instant of the next probe
	interval time.Duration // Probing: the wait after a probe's 429 without Retry-After
	refused  int           // Probing: the probes answered 429 so far

	// The ceiling: none while cutAt is zero.
	rmax  float64   // the rate that drew the last cut
	cutAt time.Time // when the climb began: the cut, then the end of the probing that followed
	// metered: rmax was a meter's reading at the cut, over span; late
	// counts the answers accepted after it to requests sent before it,
	// which the reading missed (a burst whose first rejection outran its
	// acceptances). Probing's end adds them to rmax.
	metered bool
	span    time.Duration
	late    int
	cuts    int  // cuts so far, counted up to 2
	blind   bool // the first cut came with the model not pacing

	meter Meter // accepted answers, over the last second
	long  Meter // accepted answers, over the last CutSpan (set on first use)
}

// Bounds are what the caller knows at an observation: the model's pace
// (requests per second; +Inf when the model does not pace), the slot (one
// request's share of the window, the first wait between probes) and the
// longest wait between probes.
type Bounds struct {
	Pace        float64
	Slot        time.Duration
	MaxInterval time.Duration
}

// State returns the guard's state.
func (g *Guard) State() State { return g.state }

// Calm reports whether the guard binds nothing: open and without a ceiling.
func (g *Guard) Calm() bool { return g.state == Open && g.cutAt.IsZero() }

// Admit reports whether a request may go at now as far as the guard is
// concerned, and whether it goes as a probe. When it may not, wait is how
// long until it might (negative: until the probe in flight is answered).
// Admitting a probe marks it in flight: the caller must report its outcome,
// a response or none, to [Guard.Observe] with probe set.
func (g *Guard) Admit(now time.Time) (ok, probe bool, wait time.Duration) {
	switch {
	case g.state == Open:
		return true, false, 0
	case g.probeOut:
		return false, false, -1
	case now.Before(g.next):
		return false, false, g.next.Sub(now)
	}
	g.probeOut = true
	return true, true, 0
}

// Until is when the next request could go as far as the guard knows at now:
// now when open, the next probe's instant while probing (now plus b.Slot
// when a probe is in flight, its answer being unknown).
func (g *Guard) Until(now time.Time, b Bounds) time.Time {
	switch {
	case g.state == Open:
		return now
	case g.probeOut:
		return now.Add(max(b.Slot, MinProbeWait))
	case g.next.After(now):
		return g.next
	}
	return now
}

// Ceiling returns the cap the guard puts on the pace at now, in requests per
// second, or +Inf when there is none. It is Beta times the rate that drew
// the cut until the probing that followed ends, then climbs (from that rate
// itself after a blind first cut, see [CFirst]), but never past
// twice the most the server was seen to accept (the rate that drew the cut,
// or the last second's): a climb that no answer bears out would otherwise
// let every worker send at once into the next rejection.
func (g *Guard) Ceiling(now time.Time) float64 {
	if g.cutAt.IsZero() {
		return math.Inf(1)
	}
	if g.state == Probing {
		return Beta * g.rmax
	}
	t := max(now.Sub(g.cutAt).Seconds(), 0)
	c := CFirst
	switch {
	case g.cuts >= 2:
		c, t = C, t-k
	case !g.blind:
		t -= kFirst
	}
	return min(g.rmax*(1+c*t*t*t), 2*max(g.rmax, g.meter.Rate(now)))
}

// Observe folds in the answer to a request sent at sent, received at now:
// its status code (0 for no response), and the Retry-After it carried, if
// any (ra >= 0; negative when absent). probe says the request went as the
// guard's probe; foreseen says the model sent it knowing a 429 was likely
// (a probe of its own): such a 429 keeps the key probing but cuts no pace.
// It reports whether what the guard admits changed (a Probing episode began
// or ended, or a probe came back), so that the caller wakes the requests
// waiting on the guard.
func (g *Guard) Observe(now, sent time.Time, status int, ra time.Duration, probe, foreseen bool, b Bounds) (changed bool) {
	if probe {
		g.probeOut = false
		changed = true
	}
	switch {
	case status == 0:
		if probe {
			g.next = now.Add(g.interval)
		}
		return changed
	case status != 429:
		if status < 500 {
			g.meter.Add(now)
			g.long.Span = CutSpan
			g.long.Add(now)
			if g.metered && g.state == Probing && !g.inEpisode(sent) {
				g.late++
			}
		}
		if probe || g.state == Probing && g.inEpisode(sent) {
			changed = changed || g.state == Probing
			g.state = Open
			if g.metered {
				g.rmax += float64(g.late) / g.span.Seconds()
				g.metered, g.late = false, 0
			}
			if !g.cutAt.IsZero() {
				// The climb starts when requests go again: a long
				// Retry-After must not have used it up.
				g.cutAt = now
			}
		}
		if !g.cutAt.IsZero() && g.Ceiling(now) >= b.Pace {
			g.cutAt = time.Time{} // the model's pace binds again
		}
		return changed
	}
	first := max(b.Slot, MinProbeWait)
	limit := max(b.MaxInterval, first)
	if g.state == Probing && (probe || g.inEpisode(sent)) {
		// A probe's 429 (or a request's that went under the episode):
		// wait longer before the next one (see MinProbeWait).
		g.next = now.Add(g.probeWait(ra, g.interval))
		if g.refused > 0 || !math.IsInf(b.Pace, 1) {
			g.interval = min(2*g.interval, limit)
		}
		g.refused++
		return changed
	}
	if g.state == Probing {
		// Sent before the episode began: the same burst of 429s.
		if ra >= 0 && now.Add(ra).After(g.next) {
			g.next = now.Add(ra)
		}
		return false
	}
	// The rate that drew the 429: the ceiling's, or without one the
	// model's pace, unless fewer answers were accepted in the last
	// CutSpan (a ceiling or a pace above what the server lets through),
	// or in the last second at a key's first cut.
	r := min(g.Ceiling(now), b.Pace)
	span, m := CutSpan, g.long.Rate(now)
	if g.cuts == 0 {
		span, m = g.meter.span(), g.meter.Rate(now)
	}
	metered := m < r
	r = min(r, m)
	g.state, g.since, g.probeOut = Probing, now, false
	g.next = now.Add(g.probeWait(ra, first))
	g.interval, g.refused = min(2*first, limit), 0
	if foreseen {
		return true
	}
	if math.IsInf(r, 1) || r <= 0 {
		r = 1 / first.Seconds()
	}
	g.rmax, g.cutAt = r, now
	g.metered, g.span, g.late = metered, span, 0
	g.blind = g.cuts == 0 && math.IsInf(b.Pace, 1)
	g.cuts = min(g.cuts+1, 2)
	return true
}

// inEpisode reports whether a request sent at sent went under the current
// Probing episode, after the 429 that began it. One sent at that very
// instant (a coarse clock) went before it: it was admitted while the key
// was open, one of the burst that the 429 ended.
func (g *Guard) inEpisode(sent time.Time) bool { return sent.After(g.since) }

// probeWait is the wait before the next probe: the server's Retry-After when
// it gave one, else d.
func (g *Guard) probeWait(ra, d time.Duration) time.Duration {
	if ra >= 0 {
		return max(ra, MinProbeWait)
	}
	return d
}
