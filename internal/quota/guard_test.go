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
	tests := []struct {
		name  string
		steps []step
	}{
		{"open admits everything", []step{
			{at: 0, admit: true, wantOK: true},
			{at: 20 * ms, status: 200, ra: -1},
			{at: 20 * ms, admit: true, wantOK: true},
		}},
		{"unforeseen 429: one probe at a time, doubling from the minimum wait", []step{
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
		{"Retry-After sets the probe's wait", []step{
			{at: 0, status: 429, ra: 6 * time.Second, wantState: Probing},
			{at: 4 * time.Second, admit: true, wantWait: 2 * time.Second, wantState: Probing},
			{at: 6 * time.Second, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
		}},
		{"the doubling stops at the maximum wait", []step{
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
		{"429s of requests sent before the episode do not push the probe back", []step{
			{at: 0, status: 429, sent: -20 * ms, ra: -1, wantState: Probing},
			{at: 10 * ms, status: 429, sent: -16 * ms, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
		}},
		{"a success sent before the episode does not end it", []step{
			{at: 0, status: 429, sent: -20 * ms, ra: -1, wantState: Probing},
			{at: 10 * ms, status: 200, sent: -16 * ms, ra: -1, wantState: Probing},
		}},
		{"a lost probe frees the way after the current interval", []step{
			{at: 0, status: 429, ra: -1, wantState: Probing},
			{at: 500 * ms, admit: true, wantOK: true, wantProbe: true, wantState: Probing},
			{at: 520 * ms, status: 0, sent: 500 * ms, ra: -1, probe: true, wantState: Probing},
			{at: 1400 * ms, admit: true, wantWait: 120 * ms, wantState: Probing},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Guard
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
// model's pace and the accepted rate, and climbs back to it K seconds after
// the probing ends.
func TestGuardCeiling(t *testing.T) {
	tests := []struct {
		name     string
		pace     float64
		accepted int // answers accepted in the second before the 429
		wantMax  float64
	}{
		{"model pace binds", 20, 100, 20},
		{"accepted rate binds", math.Inf(1), 10, 10},
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
			if got, want := g.Ceiling(now), Beta*tt.wantMax; math.Abs(got-want) > 1e-9 {
				t.Errorf("Ceiling when the probing ends = %v, want %v", got, want)
			}
			// A key's first climb is the fast one (CFirst).
			k := time.Duration(math.Cbrt((1-Beta)/CFirst) * float64(time.Second))
			if got := g.Ceiling(now.Add(k)); math.Abs(got-tt.wantMax) > 1e-6 {
				t.Errorf("Ceiling after K = %v, want %v", got, tt.wantMax)
			}
			if g.Ceiling(now.Add(k+time.Second)) <= tt.wantMax {
				t.Errorf("Ceiling does not climb past rmax")
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

func TestMeter(t *testing.T) {
	var m Meter
	if !math.IsInf(m.Rate(t0), 1) {
		t.Fatalf("empty meter rate = %v, want +Inf", m.Rate(t0))
	}
	for i := range 10 {
		m.Add(at(time.Duration(i) * 100 * ms))
	}
	if got := m.Rate(at(999 * ms)); got != 10 {
		t.Errorf("Rate after a first second of 10 = %v, want 10", got)
	}
	// Half a second into the next bucket, with 5 more events: 10·0.5 + 5.
	for i := range 5 {
		m.Add(at(time.Second + time.Duration(i)*100*ms))
	}
	if got := m.Rate(at(1500 * ms)); got != 10 {
		t.Errorf("Rate = %v, want 10", got)
	}
	if got := m.Rate(at(10 * time.Second)); got != 0 {
		t.Errorf("Rate after a long silence = %v, want 0", got)
	}
}

// TestGuardSecondCut: a second cut starts from what the key reached: the
// ceiling it had climbed to, or the rate the server accepted in the last
// second when that is lower (not from the ceiling's probing value); and the
// climb after it is the slow one (C).
func TestGuardSecondCut(t *testing.T) {
	var g Guard
	b := Bounds{Pace: math.Inf(1), Slot: 50 * ms, MaxInterval: time.Minute}
	for i := range 10 {
		g.Observe(at(time.Duration(i)*100*ms), t0, 200, -1, false, false, b)
	}
	g.Observe(at(time.Second), at(time.Second), 429, -1, false, false, b) // rmax 10
	g.Observe(at(2*time.Second), at(2*time.Second), 200, -1, true, false, b)
	later := at(4 * time.Second)
	for i := range 20 {
		g.Observe(later.Add(time.Duration(i)*50*ms), later, 200, -1, false, false, b)
	}
	now := later.Add(time.Second)
	want := Beta * min(g.Ceiling(now), g.meter.Rate(now))
	g.Observe(now, now, 429, -1, false, false, b)
	if got := g.Ceiling(now); math.Abs(got-want) > 1e-9 || got <= Beta*Beta*10 {
		t.Errorf("Ceiling after the second cut = %v, want %v (from what the key reached)", got, want)
	}
	rmax := want / Beta
	end := now.Add(time.Second)
	g.Observe(end, end, 200, -1, true, false, b)
	if got := g.Ceiling(end.Add(time.Duration(math.Cbrt((1-Beta)/C) * float64(time.Second)))); math.Abs(got-rmax) > 1e-6 {
		t.Errorf("Ceiling K after the second probing = %v, want %v (the slow climb)", got, rmax)
	}
}

// TestGuardLateAnswers: answers accepted after a cut, to requests sent
// before it, count in the rate that drew it: the reading at the 429 missed
// them (a burst whose first rejection came back before its acceptances).
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
	if got := g.Ceiling(end); math.Abs(got-Beta*10) > 1e-9 {
		t.Errorf("Ceiling when the probing ends = %v, want %v (4 read at the cut, 6 late)", got, Beta*10)
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
