package loadtest

import (
	"strings"
	"testing"
)

func TestThresholds(t *testing.T) {
	s := summary{
		Requests: 200, Attempts: 250, Status429: 5, Failed: 2, Successes: 190, Refused: 8,
		AchievedRate: 19.5, Utilisation: 0.93,
		Latency: latencySummary{P50: 0.1, P99: 1.5, Max: 2.5},
	}
	tests := []struct {
		give      string
		wantPass  bool
		wantValue string
	}{
		{"p99<2s", true, "1.5s"},
		{"p99 < 1s", false, "1.5s"},
		{"max<=2.5s", true, "2.5s"},
		{"429s<1%", false, "2.00% (5 of 250)"},
		{"429s<=5", true, "5"},
		{"failed<1%", false, "1.00% (2 of 200)"}, // 1% exactly is not below 1%
		{"failed<=0", false, "2"},
		{"success>=95%", true, "95.00% (190 of 200)"},
		{"rate>15", true, "19.50/s"},
		{"utilisation>90%", true, "93.0%"},
		{"utilisation>0.95", false, "93.0%"},
		{"dropped<1%", true, "0.00% (0 of 200)"},
	}
	for _, tt := range tests {
		ths, err := parseThresholds(tt.give)
		if err != nil || len(ths) != 1 {
			t.Errorf("parseThresholds(%q) = %v, %v; want one threshold", tt.give, ths, err)
			continue
		}
		got := ths[0].check(s)
		if got.Pass != tt.wantPass || got.Value != tt.wantValue || got.Threshold != strings.TrimSpace(tt.give) {
			t.Errorf("check(%q) = %+v, want pass %v, value %q", tt.give, got, tt.wantPass, tt.wantValue)
		}
	}

	ths, err := parseThresholds("p99<2s, 429s<1%,")
	if err != nil || len(ths) != 2 {
		t.Errorf(`parseThresholds("p99<2s, 429s<1%%,") = %v, %v; want two thresholds`, ths, err)
	}
}

func TestThresholdErrors(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"", "no condition"},
		{"p99", "want metric<value"},
		{"p98<2s", `unknown metric "p98"`},
		{"p99<2", "want a duration"},
		{"429s<lots", "want a count"},
		{"rate>fast", "successes per second"},
		{"utilisation>most", "percentage"},
	}
	for _, tt := range tests {
		_, err := parseThresholds(tt.give)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "-thresholds: ") {
			t.Errorf("parseThresholds(%q) error = %v, want one starting -thresholds: and containing %q", tt.give, err, tt.want)
		}
	}
}
