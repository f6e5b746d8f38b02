package ratehttp

import (
	"time"
)

// Several limits per key (issue 19). A response may describe several
// policies: per second and per hour, APIG's API, user, app and IP limits,
// OpenAI's and Anthropic's requests and tokens. The quota's model paces by
// the policy that binds (see parseSignal's choice); the others are gates: a
// budget each, anchored on the newest response read that described it, less
// what was sent since, which a request must find room in before it goes.
//
// A request gate counts requests (their declared Cost); a token gate counts
// the tokens that requests declare with TokenCost, and only those: a request
// that declares none never waits for a token quota, and the Transport cannot
// know what the others spend (the server's remaining, read again at each
// answer, catches up with it).

// gate is one policy of a key other than the binding one.
type gate struct {
	name   string
	unit   quotaUnit
	limit  int64
	rem    int64     // remaining when the anchor's response was counted
	seq    uint64    // the anchor request's seq: requests after it are not counted in rem
	tokens int64     // q.tokenSeq after the anchor request
	reset  time.Time // when rem is back to limit; zero when unknown
}

// multiPolicy reports whether responses of dialect d may describe several
// policies, so that their detail is worth parsing.
func multiPolicy(d dialect) bool {
	switch d {
	case dialectIETF, dialectOpenAI, dialectAnthropic, dialectAPIG:
		return true
	}
	return false
}

// setGates replaces q's gates by the policies of d that do not bind, as
// counted for the request behind t. It requires q.mu held.
func (q *quota) setGates(t ticket, d *detail) {
	q.ngates = 0
	for i := range int(d.npolicies) {
		p := d.policies[i]
		if i == int(d.binding) || p.limit <= 0 || p.count < 0 || p.unit == unitOther {
			continue
		}
		q.gates[q.ngates] = gate{name: p.name, unit: p.unit, limit: p.limit, rem: p.count, seq: t.seq, tokens: t.tokens, reset: p.reset}
		q.ngates++
	}
}

// gateWait reports whether a gate holds back a request of w at now, and
// until when: a request gate whose budget, less the requests sent since its
// anchor, has no room for w's cost, or a token gate without room for the
// tokens w declares, until the gate's reset. A gate whose reset has passed is
// full again, and holds nothing. It requires q.mu held.
func (q *quota) gateWait(now time.Time, w want) (time.Duration, bool) {
	var until time.Time
	for i := range int(q.ngates) {
		g := &q.gates[i]
		if g.reset.IsZero() || !now.Before(g.reset) {
			continue
		}
		var left, need int64
		switch g.unit {
		case unitRequests:
			left, need = g.rem-int64(q.seq.Load()-g.seq-1), w.cost
		default:
			if w.tokens <= 0 {
				continue // declares no tokens: never held by a token quota
			}
			left, need = g.rem-(q.tokenSeq.Load()-g.tokens), w.tokens
		}
		if left < need && g.reset.After(until) {
			until = g.reset
		}
	}
	if until.IsZero() {
		return 0, false
	}
	return until.Sub(now), true
}

// PolicyState is one of several limits a server reports for a quota, beside
// the one the Transport paces by (see [QuotaState.Policies]).
type PolicyState struct {
	// Name is the policy's name as the server gave it ("user", "tokens",
	// an IETF policy's name), or "" when it gave none.
	Name string
	// Unit is what it counts: "requests" or "tokens" (Anthropic's
	// "input-tokens" and "output-tokens" too).
	Unit string
	// Limit is its quota; Remaining the Transport's estimate of what is
	// left, less what was sent since the server counted (for a token
	// policy, the tokens requests declared with TokenCost).
	Limit, Remaining int64
	// Reset is when it is full again; zero when unknown.
	Reset time.Time
}

// policies reports q's gates at now. It requires q.mu held.
func (q *quota) policies(now time.Time) []PolicyState {
	if q.ngates == 0 {
		return nil
	}
	out := make([]PolicyState, 0, q.ngates)
	for i := range int(q.ngates) {
		g := q.gates[i]
		p := PolicyState{Name: clean(g.name, 64), Unit: unitName(g.unit), Limit: g.limit, Reset: g.reset}
		switch {
		case !g.reset.IsZero() && !now.Before(g.reset):
			p.Remaining, p.Reset = g.limit, time.Time{}
		case g.unit == unitRequests:
			p.Remaining = max(g.rem-int64(q.seq.Load()-g.seq-1), 0)
		default:
			p.Remaining = max(g.rem-(q.tokenSeq.Load()-g.tokens), 0)
		}
		out = append(out, p)
	}
	return out
}

func unitName(u quotaUnit) string {
	switch u {
	case unitRequests:
		return "requests"
	case unitTokens:
		return "tokens"
	case unitInputTokens:
		return "input-tokens"
	case unitOutputTokens:
		return "output-tokens"
	}
	return "other"
}
