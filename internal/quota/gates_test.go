package quota

import (
	"math"
	"testing"
	"time"
)

// month is the furthest reset the root package's parser lets through.
const month = 31 * 24 * time.Hour

// TestGateWait: a gate holds a request only while it has no room for it:
// requests for a request gate, until its reset; declared tokens for a token
// gate (never a request that declares none), until enough has refilled at the
// rate the answer implies, at most until its reset; and never once its reset
// has passed. Nonsense neither panics nor holds past the reset.
func TestGateWait(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	reset := t0.Add(time.Minute)
	tokens := func(limit, rem int64, reset time.Time) Policy {
		return Policy{Name: "tokens", Unit: UnitTokens, Limit: limit, Remaining: rem, Reset: reset}
	}
	requests := func(rem int64, reset time.Time) Policy {
		return Policy{Name: "requests", Unit: UnitRequests, Limit: 100, Remaining: rem, Reset: reset}
	}
	const huge = 1 << 62
	tests := []struct {
		name   string
		give   Policy // read at t0, for the request of seq 9
		sent   uint64 // requests taken after the anchor's
		tokens int64  // tokens declared after the anchor's
		at     time.Duration
		w      Want
		want   time.Duration // 0: not held
	}{
		{"requests: room", requests(2, reset), 1, 0, 0, Want{Cost: 1}, 0},
		{"requests: spent", requests(2, reset), 2, 0, 0, Want{Cost: 1}, time.Minute},
		{"requests: spent, later", requests(2, reset), 2, 0, 20 * time.Second, Want{Cost: 1}, 40 * time.Second},
		{"requests: cost over what is left", requests(5, reset), 1, 0, 0, Want{Cost: 5}, time.Minute},
		{"requests: reset passed", requests(0, t0.Add(-time.Second)), 9, 0, 0, Want{Cost: 1}, 0},
		{"requests: no reset", requests(0, time.Time{}), 9, 0, 0, Want{Cost: 1}, 0},

		{"tokens: none declared", tokens(1000, 0, reset), 0, 0, 0, Want{Cost: 1}, 0},
		{"tokens: none declared, all declared away", tokens(1000, 0, reset), 0, 1 << 40, 0, Want{Cost: 1}, 0},
		{"tokens: room", tokens(1000, 1000, reset), 0, 500, 0, Want{Cost: 1, Tokens: 500}, 0},
		// 10,000 a minute with 500 left: refills 9,500 in 60 s; 500 more
		// take 500/(9500/60) s, not the minute to the reset.
		{"tokens: short, refills", tokens(10000, 500, reset), 0, 0, 0, Want{Cost: 1, Tokens: 1000}, 3157894737},
		{"tokens: short, partly refilled", tokens(10000, 500, reset), 0, 0, 3 * time.Second, Want{Cost: 1, Tokens: 1000}, 157894737},
		{"tokens: refilled enough", tokens(10000, 500, reset), 0, 0, 4 * time.Second, Want{Cost: 1, Tokens: 1000}, 0},
		{"tokens: declared since", tokens(10000, 2000, reset), 0, 1500, 0, Want{Cost: 1, Tokens: 1000}, 3750 * time.Millisecond},
		{"tokens: more than the limit", tokens(10000, 10000, reset), 0, 0, 0, Want{Cost: 1, Tokens: 10001}, time.Minute},
		{"tokens: more than the limit, later", tokens(10000, 0, reset), 0, 0, 50 * time.Second, Want{Cost: 1, Tokens: 20000}, 10 * time.Second},
		{"tokens: full at the answer, declared away", tokens(6000, 6000, reset), 0, 6000, 0, Want{Cost: 1, Tokens: 100}, time.Minute},
		{"tokens: reset passed", tokens(1000, 0, t0.Add(-time.Second)), 0, 0, 0, Want{Cost: 1, Tokens: 500}, 0},
		{"tokens: reset at the answer", tokens(1000, 0, t0), 0, 0, 0, Want{Cost: 1, Tokens: 500}, 0},
		{"tokens: no reset", tokens(1000, 0, time.Time{}), 0, 0, 0, Want{Cost: 1, Tokens: 500}, 0},
		{"tokens: asked before the answer", tokens(10000, 500, reset), 0, 0, -time.Second, Want{Cost: 1, Tokens: 1000}, 4157894737},
		{"tokens: remaining over the limit", tokens(1000, 5000, reset), 0, 0, 0, Want{Cost: 1, Tokens: 1000}, 0},
		{"tokens: huge limit, spent", tokens(huge, 0, t0.Add(time.Nanosecond)), 0, 0, 0, Want{Cost: 1, Tokens: huge}, time.Nanosecond},
		{"tokens: huge declarations", tokens(1000, 0, reset), 0, huge, 0, Want{Cost: 1, Tokens: huge}, time.Minute},
		{"tokens: far reset", tokens(1000, 0, t0.Add(month)), 0, 0, 0, Want{Cost: 1, Tokens: 1000}, month},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(0)
			q.seq.Store(10) // the anchor took seq 9
			q.gates[0], q.ngates = newGate(tt.give, &Ticket{seq: 9}, t0), 1
			q.seq.Add(tt.sent)
			q.tokenSeq.Add(tt.tokens)
			d, held, byTokens := q.gateWait(t0.Add(tt.at), tt.w)
			if d != tt.want || held != (tt.want > 0) || byTokens != (held && tt.give.Unit != UnitRequests) {
				t.Errorf("gateWait = %v, %v, %v; want %v", d, held, byTokens, tt.want)
			}
		})
	}
}

// TestPolicyRemaining: a token policy's remaining rises continuously towards
// its limit as the bucket refills, less the tokens declared since; a request
// policy's stays until its reset; both are full once the reset passed.
func TestPolicyRemaining(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	reset := t0.Add(time.Minute)
	tests := []struct {
		name   string
		give   Policy
		sent   uint64
		tokens int64
		at     time.Duration
		want   int64
	}{
		{"tokens: at the answer", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 4000, Reset: reset}, 0, 0, 0, 4000},
		{"tokens: half way", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 4000, Reset: reset}, 0, 0, 30 * time.Second, 7000},
		{"tokens: half way, declared", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 4000, Reset: reset}, 3, 5000, 30 * time.Second, 2000},
		{"tokens: declared more than left", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 4000, Reset: reset}, 1, 9000, 0, 0},
		{"tokens: reset passed", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 4000, Reset: reset}, 1, 9000, time.Minute, 10000},
		{"tokens: over the limit", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 20000, Reset: reset}, 0, 0, 30 * time.Second, 10000},
		{"tokens: no reset", Policy{Unit: UnitTokens, Limit: 10000, Remaining: 4000}, 0, 0, time.Hour, 4000},
		{"requests: half way", Policy{Unit: UnitRequests, Limit: 100, Remaining: 40, Reset: reset}, 5, 0, 30 * time.Second, 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(0)
			q.seq.Store(10) // the anchor took seq 9
			q.gates[0], q.ngates = newGate(tt.give, &Ticket{seq: 9}, t0), 1
			q.seq.Add(tt.sent)
			q.tokenSeq.Add(tt.tokens)
			if got := q.policies(t0.Add(tt.at)); len(got) != 1 || got[0].Remaining != tt.want {
				t.Errorf("policies(t0+%v) = %+v, want Remaining %d", tt.at, got, tt.want)
			}
		})
	}
}

// TestTokensPerRequest: between two answers, the fall of a token quota's
// remaining plus its refill, over the requests sent in between, is what an
// average request took; a moving average over the spans, which skips spans in
// which the bucket may have filled or the limit changed.
func TestTokensPerRequest(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	// A bucket of 6,000 that refills 100 a second: full 60 s after empty.
	type answer struct {
		at    time.Duration // read at t0+at
		seq   uint64
		limit int64
		rem   int64
		full  time.Duration // the reset: full at at+full; 0: unknown
	}
	bucket := func(at time.Duration, seq uint64, rem int64) answer {
		return answer{at, seq, 6000, rem, time.Duration(6000-rem) * time.Second / 100}
	}
	tests := []struct {
		name    string
		answers []answer
		want    float64
	}{
		{"one answer", []answer{bucket(0, 1, 3000)}, 0},
		// 10 requests in 5 s: 3,000 + 500 refilled - 2,000 = 1,500.
		{"one span", []answer{bucket(0, 1, 3000), bucket(5*time.Second, 11, 2000)}, 150},
		// Then 10 requests in 2 s: 2,000 + 200 - 0 = 2,200, 220 each; the
		// span of 10 requests weighs 1-0.8^10.
		{"two spans", []answer{bucket(0, 1, 3000), bucket(5*time.Second, 11, 2000), bucket(7*time.Second, 21, 0)}, 150 + (1-math.Pow(0.8, 10))*70},
		{"out of order seq", []answer{bucket(0, 11, 3000), bucket(5*time.Second, 11, 2000)}, 0},
		{"refilled more than it fell: none taken", []answer{bucket(0, 1, 3000), bucket(5*time.Second, 3, 3600)}, 0},
		{"bucket may have filled", []answer{bucket(0, 1, 5900), bucket(2*time.Second, 3, 5000)}, 0},
		{"full at the first answer", []answer{bucket(0, 1, 6000), bucket(2*time.Second, 3, 5000)}, 0},
		{"limit changed", []answer{bucket(0, 1, 3000), {5 * time.Second, 11, 9000, 2000, time.Minute}}, 0},
		{"no reset", []answer{{0, 1, 6000, 3000, 0}, bucket(5*time.Second, 11, 2000)}, 0},
		{"skipped span keeps the average", []answer{bucket(0, 1, 3000), bucket(5*time.Second, 11, 2000), bucket(5*time.Minute, 21, 5000)}, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newKey(0)
			for _, a := range tt.answers {
				now := t0.Add(a.at)
				p := Policy{Name: "tokens", Unit: UnitTokens, Limit: a.limit, Remaining: a.rem}
				if a.full > 0 {
					p.Reset = now.Add(a.full)
				}
				q.setGates(&Ticket{seq: a.seq}, []Policy{p}, now)
			}
			p := q.policies(t0)
			if len(p) != 1 || math.Abs(p[0].TokensPerRequest-tt.want) > 1e-6 {
				t.Errorf("Policies = %+v, want TokensPerRequest %v", p, tt.want)
			}
		})
	}
}
