package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// knownShortfall names the cases whose share of the allowance ratehttp
// misses grossly today, with the reason: an open defect of issue 18, listed
// so that CI still fails on every other gross miss, on any storm and on too
// many 429s in every case. A case leaves the list when it meets the bound.
var knownShortfall = map[string]string{}

// onlyShortfall reports whether the gross misses are all of the share of the
// allowance used.
func onlyShortfall(gross []string) bool {
	for _, m := range gross {
		if !strings.HasPrefix(m, "allowance used") {
			return false
		}
	}
	return len(gross) > 0
}

// TestConformance drives every case with every kind of client, one run at a
// time (parallel runs would disturb each other's timing), and logs the
// figures. It fails only where ratehttp storms or misses grossly (see
// [Check]); the strict targets are reported, not enforced.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance runs take minutes of real time")
	}
	var rows []Row
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			for _, kind := range Clients {
				t.Run(kind.String(), func(t *testing.T) {
					r, err := Run(context.Background(), c, kind, Options{})
					rows = append(rows, Row{Case: c, Client: kind, Result: r, Err: err})
					if errors.Is(err, ErrUnavailable) {
						t.Skip(err)
					}
					if err != nil {
						t.Fatalf("Run(%s, %s) error = %v", c.Name, kind, err)
					}
					t.Log(r)
					if kind == Plain && r.RejectShare() < 0.5 {
						t.Logf("harness check: the plain client had only %.1f%% of its attempts rejected; the case may not bind", 100*r.RejectShare())
					}
					if kind != RateHTTP {
						return
					}
					strict, gross := Check(c, r)
					for _, m := range strict {
						t.Logf("target missed: %s", m)
					}
					if _, known := knownShortfall[c.Name]; !known && onlyShortfall(gross) {
						// A shortfall alone may be the machine's noise:
						// it fails when a second run shows it too. A
						// storm or too many 429s fail at once.
						t.Logf("shortfall, run again: %v", gross)
						r, err = Run(context.Background(), c, kind, Options{})
						if err != nil {
							t.Fatalf("Run(%s, %s) again: error = %v", c.Name, kind, err)
						}
						t.Log(r)
						rows[len(rows)-1].Result = r
						_, gross = Check(c, r)
					}
					for _, m := range gross {
						if why, ok := knownShortfall[c.Name]; ok && strings.HasPrefix(m, "allowance used") {
							t.Logf("known shortfall (%s): %s", why, m)
							continue
						}
						t.Errorf("%s: %s", c.Name, m)
					}
				})
			}
		})
	}
	t.Logf("library versions:\n%s", Configs(Cases()))
	t.Logf("figures:\n%s", Table(rows))
}
