package quota

import (
	"math"
	"time"
)

// Several limits per key (issue 19). A response may describe several
// policies: per second and per hour, APIG's API, user, app and IP limits,
// OpenAI's and Anthropic's requests and tokens. The quota's model paces by
// the policy that binds (the root package's parser chooses it); the others
// are gates: a
// budget each, anchored on the newest response read that described it, less
// what was sent since, which a request must find room in before it goes.
//
// A request gate counts requests (their declared Cost), and is full again at
// its reset: it may be a fixed window, so nothing is assumed to refill before.
//
// A token gate counts tokens, which the Transport cannot know before a
// request is answered. OpenAI's and Anthropic's token quotas are buckets that
// refill continuously and report when they will be full (OpenAI as a delay,
// "6m0s", Anthropic as an instant), so each answer read teaches two things:
//
//   - The refill: an answer that leaves remaining of limit, full at reset,
//     says the bucket refills (limit-remaining)/(reset-now) tokens a second
//     (limit over the time to the reset when it says the bucket is full).
//     Between answers the gate's remaining rises at that rate, continuously,
//     towards the limit, which it reaches at the reset.
//   - The tokens an average request takes (PolicyView.TokensPerRequest):
//     between two answers, the fall of remaining plus the refill over the
//     time between them, over the requests sent in between, averaged over
//     the answers (an exponentially weighted moving average). It is what a
//     caller may declare with TokenCost.
//
// A request that declares tokens (TokenCost) waits while the gate has no room
// for them: its remaining, risen by the refill, less the tokens declared since
// the newest answer. It waits until enough has refilled, (need-left)/refill,
// and at most until the gate's reset.
//
// Guaranteed:
//
//   - A request that declares no tokens is never held by a token gate,
//     whatever the headers say, nor queued behind a request that one holds.
//   - No gate holds a request past the gate's reset, at most a month after
//     the answer that reported it; a gate whose reset is unknown or past holds
//     nothing. A request declaring more than the limit waits for the reset,
//     then goes. Like every wait, a gate's is refused at once when it passes
//     the request's deadline or maximum wait (MaxWait, WithMaxWait).
//   - Nonsense neither panics nor stalls: a remaining over the limit never
//     makes room beyond the limit, a reset not after the answer makes the
//     gate full, and huge values only shorten or lengthen a wait within the
//     bounds above.
//   - The decisions are functions of the gate, what was declared since and
//     the instant, which tests drive at fixed instants.
//
// Not guaranteed:
//
//   - That a request that declares its tokens gets no 429: declarations are
//     estimates, and tokens used beyond them, by requests that declare
//     nothing or by other clients of the same key, show only in the next
//     answer read. A 429 they cause is handled like any other.
//   - That the refill is exact: resets are rounded (Anthropic's to the
//     second), so a short time to the reset may make the rate look slower
//     (a longer wait, still at most the reset) or faster than it is.
//   - That TokensPerRequest is what this client's requests take: it counts
//     every request the server counted, this client's or not, declared or
//     not, and answers that arrive out of order blur it. It is 0 until two
//     answers have been read while the bucket was not full, and it skips
//     spans in which the bucket may have filled (when the newer answer came
//     after the older one's reset), or whose limit changed.
//
// A request held by token gates alone waits out of the queue of waiters (see
// Acquire): the requests behind it, and those that come meanwhile, go as the
// other rules let them, so a request that declares no tokens never waits for
// one that does. When its wait ends it queues again, at the tail of its
// priority, and the gate is asked again.

// Unit is what a policy counts.
type Unit uint8

const (
	UnitRequests     Unit = iota // requests: the only unit that paces
	UnitTokens                   // tokens, input and output together (OpenAI, Anthropic)
	UnitInputTokens              // input tokens (Anthropic)
	UnitOutputTokens             // output tokens (Anthropic)
	UnitOther                    // content bytes, concurrent requests or an unknown IETF unit
)

// MaxPolicies is the most policies a response's Observation carries, the
// binding one included.
const MaxPolicies = 4

// Policy is one of a response's policies that does not bind (see
// Observation.Policies).
type Policy struct {
	Name      string
	Unit      Unit
	Limit     int64
	Remaining int64     // -1 when unknown
	Reset     time.Time // when it is full again; zero when unknown
}

// PolicyView is a gate's state at one instant (see View.Policies).
type PolicyView struct {
	Name             string
	Unit             Unit
	Limit, Remaining int64
	Reset            time.Time // zero when unknown or past
	// TokensPerRequest is, for a token policy, the tokens an average
	// request took from it (see the notes above); 0 for a request policy
	// and until learned.
	TokensPerRequest float64
}

// gate is one policy of a key other than the binding one.
type gate struct {
	name   string
	unit   Unit
	limit  int64
	rem    int64     // remaining when the anchor's response was counted, at most limit
	seq    uint64    // the anchor request's seq: requests after it are not counted in rem
	tokens int64     // q.tokenSeq after the anchor request
	at     time.Time // when the anchor's response was read
	reset  time.Time // when rem is back to limit; zero when unknown

	// refill is how fast a token gate refills from rem at at, in tokens per
	// second, to be full at reset (see refillRate); 0 when unknown and for
	// a request gate.
	refill float64
	// perReq is the tokens an average request takes from a token gate
	// (EWMA, see learn), valid when learned.
	perReq  float64
	learned bool
}

// setGates replaces q's gates by the policies ps, as counted for the request
// behind t, whose answer was read at now: those with a limit, a remaining
// count and a unit it can count. A token gate keeps what the same policy's
// previous gate learned, and learns from the span between them. It requires
// q.mu held.
func (q *Key) setGates(t *Ticket, ps []Policy, now time.Time) {
	if len(ps) == 0 {
		q.ngates = 0
		return
	}
	prev := q.gates // the previous answers' gates, beyond q.ngates too
	q.ngates = 0
	for _, p := range ps {
		if p.Limit <= 0 || p.Remaining < 0 || p.Unit == UnitOther || q.ngates == len(q.gates) {
			continue
		}
		g := newGate(p, t, now)
		if g.unit != UnitRequests {
			for j := range prev {
				if o := &prev[j]; !o.at.IsZero() && o.unit == g.unit && o.name == g.name {
					g.learn(o)
					break
				}
			}
		}
		q.gates[q.ngates] = g
		q.ngates++
	}
}

// newGate is the gate of policy p as counted for the request behind t, whose
// answer was read at now.
func newGate(p Policy, t *Ticket, now time.Time) gate {
	g := gate{name: p.Name, unit: p.Unit, limit: p.Limit, rem: min(p.Remaining, p.Limit), seq: t.seq, tokens: t.tokens, at: now, reset: p.Reset}
	if g.unit != UnitRequests {
		g.refill = refillRate(g.limit, g.rem, now, g.reset)
	}
	return g
}

// refillRate is how fast a token bucket of limit that holds rem at now, and
// is full at reset, refills, in tokens per second: limit-rem over the time to
// the reset, or limit over it when the bucket is full; 0 when the reset is
// unknown or not after now. It requires 0 <= rem <= limit.
func refillRate(limit, rem int64, now, reset time.Time) float64 {
	if reset.IsZero() || !reset.After(now) {
		return 0
	}
	span := reset.Sub(now).Seconds()
	if d := limit - rem; d > 0 {
		return float64(d) / span
	}
	return float64(limit) / span
}

// perReqWeight is the weight of one request's tokens in the average a token
// gate learns: a span of n requests weighs 1-(1-perReqWeight)^n.
const perReqWeight = 0.2

// learn folds into g the span since o, the same policy's gate of an earlier
// answer: the tokens the requests in between took, over their number. A span
// whose bucket may have been full (g read after o's reset, or o full) or
// whose limit changed teaches nothing; g keeps what o had learned.
func (g *gate) learn(o *gate) {
	g.perReq, g.learned = o.perReq, o.learned
	if g.seq <= o.seq || !g.at.After(o.at) || g.limit != o.limit || o.rem >= o.limit || o.refill <= 0 || g.at.After(o.reset) {
		return
	}
	// The rate measured over the longer time to a reset: the rounding of
	// the resets weighs least in it.
	r := o.refill
	if g.rem < g.limit && g.refill > 0 && g.reset.Sub(g.at) > o.reset.Sub(o.at) {
		r = g.refill
	}
	n := float64(g.seq - o.seq)
	spent := max(float64(o.rem)+r*g.at.Sub(o.at).Seconds()-float64(g.rem), 0)
	sample := spent / n
	if !g.learned {
		g.perReq, g.learned = sample, true
		return
	}
	a := 1 - math.Pow(1-perReqWeight, n)
	g.perReq += a * (sample - g.perReq)
}

// level is what token gate g holds at now before the tokens declared since
// its anchor: rem risen by the refill since at, at most limit.
func (g *gate) level(now time.Time) float64 {
	if g.refill <= 0 || !now.After(g.at) {
		return float64(g.rem)
	}
	return min(float64(g.limit), float64(g.rem)+g.refill*now.Sub(g.at).Seconds())
}

// tokenWait is how long token gate g holds a request that declares need
// tokens at now, declared the tokens declared since its anchor: 0 when it
// has room, else until enough has refilled, at most until its reset (need
// over the limit: until the reset). It requires now before g's reset.
func (g *gate) tokenWait(now time.Time, declared, need int64) time.Duration {
	want := float64(declared) + float64(need)
	lvl := g.level(now)
	if lvl >= want-1e-6 { // float rounding: a wait computed to the nanosecond may land a hair short
		return 0
	}
	toReset := g.reset.Sub(now)
	if want > float64(g.limit) || g.refill <= 0 {
		return toReset
	}
	// The level reaches want (want-rem)/refill after the anchor's answer.
	d := max(math.Ceil((want-float64(g.rem))/g.refill*1e9)-float64(now.Sub(g.at)), 1)
	if d >= float64(toReset) {
		return toReset
	}
	return time.Duration(d)
}

// gateWait reports whether a gate holds back a request of w at now, and for
// how long: a request gate whose budget, less the requests sent since its
// anchor, has no room for w's cost, until its reset; a token gate without
// room for the tokens w declares, until enough has refilled (see tokenWait).
// A request that declares no tokens is never held by a token gate. A gate
// whose reset is unknown or has passed is full again, and holds nothing.
// tokens reports that only token gates hold it (see Acquire). It requires
// q.mu held.
func (q *Key) gateWait(now time.Time, w Want) (d time.Duration, held, tokens bool) {
	var byRequests bool
	for i := range q.ngates {
		g := &q.gates[i]
		if g.reset.IsZero() || !now.Before(g.reset) {
			continue
		}
		switch {
		case g.unit == UnitRequests:
			if g.rem-int64(q.seq.Load()-g.seq-1) < w.Cost {
				d, byRequests = max(d, g.reset.Sub(now)), true
			}
		case w.Tokens > 0:
			d = max(d, g.tokenWait(now, q.tokenSeq.Load()-g.tokens, w.Tokens))
		}
	}
	return d, d > 0, d > 0 && !byRequests
}

// policies reports q's gates at now. It requires q.mu held.
func (q *Key) policies(now time.Time) []PolicyView {
	if q.ngates == 0 {
		return nil
	}
	out := make([]PolicyView, 0, q.ngates)
	for i := range q.ngates {
		g := &q.gates[i]
		p := PolicyView{Name: g.name, Unit: g.unit, Limit: g.limit, Reset: g.reset}
		if g.unit != UnitRequests {
			p.TokensPerRequest = g.perReq
		}
		switch {
		case !g.reset.IsZero() && !now.Before(g.reset):
			p.Remaining, p.Reset = g.limit, time.Time{}
		case g.unit == UnitRequests:
			p.Remaining = max(g.rem-int64(q.seq.Load()-g.seq-1), 0)
		default:
			p.Remaining = int64(max(g.level(now)-float64(q.tokenSeq.Load()-g.tokens), 0))
		}
		out = append(out, p)
	}
	return out
}
