package quota

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const ms = time.Millisecond

// step is one call on a Guard at a fixed instant.
type step struct {
	at     time.Duration
	admit  bool          // call Admit; else Observe
	status int           // Observe: the answer's status (0: no response)
	sent   time.Duration // Observe: when the request was sent
	ra     time.Duration // Observe: Retry-After, negative when absent
	probe  bool          // Observe: the request went as a probe
	fore   bool          // Observe: foreseen by the model

	// What Admit must return.
	wantOK, wantProbe bool
	wantWait          time.Duration
	// What the guard must be in after the step.
	wantState State
}

func TestGuard(t *testing.T) {
	b := Bounds{Pace: 20, Slot: 100 * ms, MaxInterval: 4 * time.Second}
	const noPace = true
	tests := []struct {
		name   string
		noPace bool // the model does not pace (Bounds.Pace is +Inf)
		steps  []step
	}{
		{"open admits everything", false, []step{
			{at: 0, admit: true, wantOK: true},
			{at: 20 * ms, status: 200, ra: -1},
			{at: 20 * ms, admit: true, wantOK: true},
		}},
		{"unforeseen 429: one probe at a time, doubling from the minimum wait", false, []step{
			{at: 0, status: 429, ra: -1, wantState: Probing},
			{at: 200 * ms, admit: true, wantWait: 300 * ms, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 520 * ms, admit: true, wantWait: -1, wantState: Probing},
			{at: 600 * ms, status: 429, sent: 500 * ms, ra: -1, probe: true, wantState: Probing},
			{at: 1400 * ms, admit: true, wantWait: 200 * ms, wantState: Probing},
			{at: 1600 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 1700 * ms, status: 429, sent: 1600 * ms, ra: -1, probe: true, wantState: Probing},
			{at: 3600 * ms, admit: true, wantWait: 100 * ms, wantState: Probing},
			{at: 3700 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 3800 * ms, status: 200, sent: 3700 * ms, ra: -1, probe: true, wantState: Open},
			{at: 3800 * ms, admit: true, wantOK: true, wantState: Open},
		}},
		{"no pace (no quota headers): the minimum wait, then twice it twice", noPace, []step{
			{at: 0, status: 429, ra: -1, wantState: Probing},
			{at: 200 * ms, admit: true, wantWait: 300 * ms, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 520 * ms, admit: true, wantWait: -1, wantState: Probing},
			{at: 600 * ms, status: 429, sent: 500 * ms, ra: -1, probe: true, wantState: Probing},
			{at: 1400 * ms, admit: true, wantWait: 200 * ms, wantState: Probing},
			{at: 1600 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 1700 * ms, status: 429, sent: 1600 * ms, ra: -1, probe: true, wantState: Probing},
			{at: 2600 * ms, admit: true, wantWait: 100 * ms, wantState: Probing}, // a second again
			{at: 2700 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 2800 * ms, status: 200, sent: 2700 * ms, ra: -1, probe: true, wantState: Open},
			{at: 2800 * ms, admit: true, wantOK: true, wantState: Open},
		}},
		{"Retry-After sets the probe's wait", false, []step{
			{at: 0, status: 429, ra: 6 * time.Second, wantState: Probing},
			{at: 4 * time.Second, admit: true, wantWait: 2 * time.Second, wantState: Probing},
			{at: 6 * time.Second, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
		}},
		{"the doubling stops at the maximum wait", false, []step{
			{at: 0, status: 429, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 500 * ms, status: 429, sent: 500 * ms, ra: -1, probe: true, wantState: Probing},   // +500ms
			{at: 1500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},        //
			{at: 1500 * ms, status: 429, sent: 1500 * ms, ra: -1, probe: true, wantState: Probing}, // +1s
			{at: 3500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},        //
			{at: 3500 * ms, status: 429, sent: 3500 * ms, ra: -1, probe: true, wantState: Probing}, // +2s
			{at: 7500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 7500 * ms, status: 429, sent: 7500 * ms, ra: -1, probe: true, wantState: Probing}, // +2s, capped
			{at: 11400 * ms, admit: true, wantWait: 100 * ms, wantState: Probing},
		}},
		{"no pace: the doubling stops at the maximum wait", noPace, []step{
			{at: 0, status: 429, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 500 * ms, status: 429, sent: 500 * ms, ra: -1, probe: true, wantState: Probing},   // +1s
			{at: 1500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},        //
			{at: 1500 * ms, status: 429, sent: 1500 * ms, ra: -1, probe: true, wantState: Probing}, // +1s
			{at: 2500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},        //
			{at: 2500 * ms, status: 429, sent: 2500 * ms, ra: -1, probe: true, wantState: Probing}, // +2s
			{at: 4500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},        //
			{at: 4500 * ms, status: 429, sent: 4500 * ms, ra: -1, probe: true, wantState: Probing}, // +4s
			{at: 8500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 8500 * ms, status: 429, sent: 8500 * ms, ra: -1, probe: true, wantState: Probing}, // +4s, capped
			{at: 12400 * ms, admit: true, wantWait: 100 * ms, wantState: Probing},
		}},
		{"429s of requests sent before the episode do not push the probe back", false, []step{
			{at: 0, status: 429, sent: -20 * ms, ra: -1, wantState: Probing},
			{at: 10 * ms, status: 429, sent: -16 * ms, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
		}},
		{"a success sent before the episode does not end it", false, []step{
			{at: 0, status: 429, sent: -20 * ms, ra: -1, wantState: Probing},
			{at: 10 * ms, status: 200, sent: -16 * ms, ra: -1, wantState: Probing},
		}},
		// A coarse clock (or a fake one) gives the same instant to the 429
		// and to a request admitted just before it was folded in.
		{"a 429 sent at the instant the episode began is of the burst", false, []step{
			{at: 0, status: 429, sent: -20 * ms, ra: -1, wantState: Probing},
			{at: 10 * ms, status: 429, sent: 0, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
		}},
		{"a success sent at the instant the episode began does not end it", false, []step{
			{at: 0, status: 429, sent: -20 * ms, ra: -1, wantState: Probing},
			{at: 10 * ms, status: 200, sent: 0, ra: -1, wantState: Probing},
		}},
		{"a lost probe frees the way after the current interval", false, []step{
			{at: 0, status: 429, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 520 * ms, status: 0, sent: 500 * ms, ra: -1, probe: true, wantState: Probing},
			{at: 1400 * ms, admit: true, wantWait: 120 * ms, wantState: Probing},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Guard
			b := b
			if tt.noPace {
				b.Pace = math.Inf(1)
			}
			for i, s := range tt.steps {
				now := at(s.at)
				if s.admit {
					ok, probe, wait := g.Admit(now)
					if ok != s.wantOK || probe != s.wantProbe || wait != s.wantWait {
						t.Fatalf("step %d: Admit(%v) = %v, %v, %v; want %v, %v, %v", i, s.at, ok, probe, wait, s.wantOK, s.wantProbe, s.wantWait)
					}
				} else {
					g.Observe(now, at(s.sent), s.status, s.ra, s.probe, s.fore, b)
				}
				if g.State() != s.wantState {
					t.Fatalf("step %d: state = %v, want %v", i, g.State(), s.wantState)
				}
			}
		})
	}
}

// TestGuardCeiling: the first cut goes to Beta times the lesser of the
// model's pace and the accepted rate, and stays there while the probing
// lasts. Where the model paces, the climb reaches that rate again K seconds
// after the probing ends; where it does not (no quota headers: the first
// burst went blind), the climb starts from that rate and is convex only.
func TestGuardCeiling(t *testing.T) {
	tests := []struct {
		name     string
		pace     float64
		accepted int // answers accepted in the second before the 429
		wantMax  float64
	}{
		{"model pace binds", 20, 100, 20},
		{"accepted rate binds", 40, 10, 10},
		{"no pace: the accepted rate", math.Inf(1), 10, 10},
		{"nothing known: one per minimum wait", math.Inf(1), 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Guard
			b := Bounds{Pace: tt.pace, Slot: 50 * ms, MaxInterval: time.Minute}
			for i := range tt.accepted {
				g.Observe(at(time.Duration(i)*time.Second/time.Duration(tt.accepted)), t0, 200, -1, false, false, b)
			}
			if !g.Calm() {
				t.Fatalf("guard not calm before any 429")
			}
			now := at(time.Second)
			if !g.Observe(now, now, 429, -1, false, false, b) {
				t.Fatalf("Observe(429) reported no cut")
			}
			if got, want := g.Ceiling(now), Beta*tt.wantMax; math.Abs(got-want) > 1e-9 {
				t.Errorf("Ceiling right after the cut = %v, want %v", got, want)
			}
			// The climb starts when the probing ends, however long it took.
			now = now.Add(time.Minute)
			if got, want := g.Ceiling(now), Beta*tt.wantMax; math.Abs(got-want) > 1e-9 {
				t.Errorf("Ceiling while probing = %v, want %v", got, want)
			}
			g.Observe(now, now, 200, -1, true, false, b)
			blind := math.IsInf(tt.pace, 1)
			start := Beta * tt.wantMax
			if blind {
				start = tt.wantMax
			}
			if got := g.Ceiling(now); math.Abs(got-start) > 1e-9 {
				t.Errorf("Ceiling when the probing ends = %v, want %v", got, start)
			}
			// A key's first climb is the fast one (CFirst).
			d, want := time.Duration(math.Cbrt((1-Beta)/CFirst)*float64(time.Second)), tt.wantMax
			if blind {
				d, want = 500*ms, tt.wantMax*(1+CFirst/8)
			}
			if got := g.Ceiling(now.Add(d)); math.Abs(got-want) > 1e-6 {
				t.Errorf("Ceiling %v after the probing = %v, want %v", d, got, want)
			}
			if g.Ceiling(now.Add(d+time.Second)) <= want {
				t.Errorf("Ceiling does not climb past %v", want)
			}
		})
	}
}

// TestGuardForeseen: a 429 to the model's own probe keeps the key probing
// but cuts nothing.
func TestGuardForeseen(t *testing.T) {
	var g Guard
	b := Bounds{Pace: 20, Slot: 50 * ms, MaxInterval: time.Minute}
	g.Observe(t0, t0, 429, -1, false, true, b)
	if g.State() != Probing {
		t.Errorf("state = %v, want probing", g.State())
	}
	if c := g.Ceiling(t0); !math.IsInf(c, 1) {
		t.Errorf("Ceiling = %v after a foreseen 429, want none", c)
	}
}

// TestGuardCeilingForgotten: once the ceiling reaches the model's pace it is
// dropped, and the guard is calm again.
func TestGuardCeilingForgotten(t *testing.T) {
	var g Guard
	b := Bounds{Pace: 20, Slot: 50 * ms, MaxInterval: time.Minute}
	g.Observe(t0, t0, 429, -1, false, false, b)
	g.Observe(at(time.Second), at(time.Second), 200, -1, true, false, b)
	if g.Calm() {
		t.Fatalf("calm right after the cut")
	}
	later := at(4 * time.Second)
	g.Observe(later, later, 200, -1, false, false, b)
	if !g.Calm() {
		t.Errorf("not calm once the ceiling passed the pace (%v > %v)", g.Ceiling(later), b.Pace)
	}
}

// TestMeter: the rate over the last Span at fixed instants, for the default
// span (a second) and for CutSpan.
func TestMeter(t *testing.T) {
	tests := []struct {
		span time.Duration
		unit time.Duration // the span in effect
	}{
		{0, time.Second},
		{CutSpan, CutSpan},
	}
	for _, tt := range tests {
		t.Run(tt.unit.String(), func(t *testing.T) {
			m := Meter{Span: tt.span}
			if !math.IsInf(m.Rate(t0), 1) {
				t.Fatalf("empty meter rate = %v, want +Inf", m.Rate(t0))
			}
			u := tt.unit / 10
			for i := range 10 {
				m.Add(at(time.Duration(i) * u))
			}
			want := 10 / tt.unit.Seconds()
			if got := m.Rate(at(tt.unit - ms)); got != want {
				t.Errorf("Rate after a first span of 10 = %v, want %v", got, want)
			}
			// Half a span into the next bucket, with 5 more events: 10·0.5 + 5.
			for i := range 5 {
				m.Add(at(tt.unit + time.Duration(i)*u))
			}
			if got := m.Rate(at(tt.unit + tt.unit/2)); got != want {
				t.Errorf("Rate = %v, want %v", got, want)
			}
			if got := m.Rate(at(10 * tt.unit)); got != 0 {
				t.Errorf("Rate after a long silence = %v, want 0", got)
			}
		})
	}
}

// TestGuardSecondCut: a second cut starts from what the key reached: the
// ceiling it had climbed to, or the rate the server accepted over the last
// CutSpan when that is lower (not from the ceiling's probing value, nor from
// the last second alone, which a bucket's burst inflates); and the climb
// after it is the slow one (C).
func TestGuardSecondCut(t *testing.T) {
	var g Guard
	b := Bounds{Pace: math.Inf(1), Slot: 50 * ms, MaxInterval: time.Minute}
	for i := range 10 {
		g.Observe(at(time.Duration(i)*100*ms), t0, 200, -1, false, false, b)
	}
	g.Observe(at(time.Second), at(time.Second), 429, -1, false, false, b) // rmax 10
	g.Observe(at(2*time.Second), at(2*time.Second), 200, -1, true, false, b)
	// 20 per second in [3 s, 4 s), then 30 in [4 s, 5 s) as a bucket's
	// burst drains on top of its rate.
	for i := range 20 {
		g.Observe(at(3*time.Second+time.Duration(i)*50*ms), at(3*time.Second), 200, -1, false, false, b)
	}
	for i := range 30 {
		g.Observe(at(4*time.Second+time.Duration(i)*33*ms), at(4*time.Second), 200, -1, false, false, b)
	}
	now := at(5 * time.Second)
	if c := g.Ceiling(now); c < 30 {
		t.Fatalf("Ceiling before the second cut = %v, want it not to bind", c)
	}
	g.Observe(now, now, 429, -1, false, false, b)
	// Over the last two seconds: the probe's answer and the 20 (half of
	// the previous bucket still covered), and the 30.
	rmax := (0.5*21 + 30) / CutSpan.Seconds()
	if got, want := g.Ceiling(now), Beta*rmax; math.Abs(got-want) > 1e-9 {
		t.Errorf("Ceiling after the second cut = %v, want %v (from the rate over the last %v, not %v)", got, want, CutSpan, Beta*30)
	}
	end := now.Add(time.Second)
	g.Observe(end, end, 200, -1, true, false, b)
	if got := g.Ceiling(end.Add(time.Duration(math.Cbrt((1-Beta)/C) * float64(time.Second)))); math.Abs(got-rmax) > 1e-6 {
		t.Errorf("Ceiling K after the second probing = %v, want %v (the slow climb)", got, rmax)
	}
}

// TestGuardLateAnswers: answers accepted after a cut, to requests sent
// before it, count in the rate that drew it, over the span it was read
// over: the reading at the 429 missed them (a burst whose first rejection
// came back before its acceptances).
func TestGuardLateAnswers(t *testing.T) {
	var g Guard
	b := Bounds{Pace: math.Inf(1), Slot: 50 * ms, MaxInterval: time.Minute}
	for i := range 4 {
		g.Observe(at(time.Duration(i)*ms), t0, 200, -1, false, false, b)
	}
	cut := at(5 * ms)
	g.Observe(cut, t0, 429, time.Second, false, false, b) // rmax 4
	for i := range 6 {
		g.Observe(cut.Add(time.Duration(i+1)*ms), t0, 200, -1, false, false, b)
	}
	if got := g.Ceiling(cut.Add(10 * ms)); math.Abs(got-Beta*4) > 1e-9 {
		t.Errorf("Ceiling while probing = %v, want %v", got, Beta*4)
	}
	end := cut.Add(time.Second)
	g.Observe(end, end, 200, -1, true, false, b)
	// A blind first cut: the climb starts from the rate itself.
	if got := g.Ceiling(end); math.Abs(got-10) > 1e-9 {
		t.Errorf("Ceiling when the probing ends = %v, want 10 (4 read at the cut, 6 late)", got)
	}

	// A second cut reads CutSpan: 11 answers in the meter's first bucket,
	// [0, 2 s), and none since, half of it covered at 3 s; 6 late ones.
	cut = at(3 * time.Second)
	g.Observe(cut, cut, 429, time.Second, false, false, b)
	read := 0.5 * 11 / CutSpan.Seconds()
	if got := g.Ceiling(cut); math.Abs(got-Beta*read) > 1e-9 {
		t.Fatalf("Ceiling after the second cut = %v, want %v", got, Beta*read)
	}
	for i := range 6 {
		g.Observe(cut.Add(time.Duration(i+1)*ms), cut.Add(-time.Millisecond), 200, -1, false, false, b)
	}
	end = cut.Add(time.Second)
	g.Observe(end, end, 200, -1, true, false, b)
	rmax := read + 6/CutSpan.Seconds()
	if got, want := g.Ceiling(end), Beta*rmax; math.Abs(got-want) > 1e-9 {
		t.Errorf("Ceiling when the second probing ends = %v, want %v (6 late over %v)", got, want, CutSpan)
	}
}

// TestGuardObserveChanged: Observe reports every change in what Admit would
// say, so that waiters are woken: a probe's answer, whatever it is, and the
// start and end of an episode.
func TestGuardObserveChanged(t *testing.T) {
	b := Bounds{Pace: 20, Slot: 50 * ms, MaxInterval: time.Minute}
	var g Guard
	steps := []struct {
		status int
		probe  bool
		want   bool
	}{
		{200, false, false},
		{429, false, true}, // starts an episode
		{429, true, true},  // a probe's 429: the next probe's time is set
		{0, true, true},    // a lost probe
		{200, true, true},  // ends the episode
		{200, false, false},
	}
	for i, s := range steps {
		now := at(time.Duration(i) * time.Second)
		if s.probe {
			g.probeOut = true
		}
		if got := g.Observe(now, now, s.status, -1, s.probe, false, b); got != s.want {
			t.Errorf("step %d: Observe(%d, probe %v) = %v, want %v", i, s.status, s.probe, got, s.want)
		}
	}
}
