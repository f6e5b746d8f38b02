package loadtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/ratehttp/ratehttp"
)

func TestParseQuotaHeaders(t *testing.T) {
	tests := []struct {
		name   string
		give   map[string]string
		used   ratehttp.UsedMeaning
		want   quotaHeaders
		wantOK bool
	}{
		{
			name:   "vendor, used means remaining",
			give:   map[string]string{"X-Ratelimit": "100", "X-Ratelimit-Used": "40", "X-Ratelimit-Window": "5s"},
			want:   quotaHeaders{limit: 100, remaining: 40, window: 5 * time.Second},
			wantOK: true,
		},
		{
			name:   "vendor, used means used",
			give:   map[string]string{"X-Ratelimit": "100", "X-Ratelimit-Used": "40", "X-Ratelimit-Window": "minute"},
			used:   ratehttp.UsedUsed,
			want:   quotaHeaders{limit: 100, remaining: 60, window: time.Minute},
			wantOK: true,
		},
		{
			name:   "vendor, auto: remaining unknown; window absent means an hour",
			give:   map[string]string{"X-Ratelimit": "100", "X-Ratelimit-Used": "40"},
			used:   ratehttp.UsedAuto,
			want:   quotaHeaders{limit: 100, remaining: -1, window: time.Hour},
			wantOK: true,
		},
		{
			name:   "GitHub",
			give:   map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "1700000000"},
			want:   quotaHeaders{limit: 5000, remaining: 4999},
			wantOK: true,
		},
		{
			name:   "IETF draft with a policy",
			give:   map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "3", "RateLimit-Policy": "10;w=60"},
			want:   quotaHeaders{limit: 10, remaining: 3, window: time.Minute},
			wantOK: true,
		},
		{
			name: "none",
			give: map[string]string{"Content-Type": "application/json"},
			want: quotaHeaders{limit: -1, remaining: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.give {
				h.Set(k, v)
			}
			got, ok := parseQuotaHeaders(h, tt.used)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseQuotaHeaders(%v) = %+v, %v; want %+v, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		give string
		want time.Duration
	}{
		{"minute", time.Minute},
		{"Hour", time.Hour},
		{"days", 24 * time.Hour},
		{"15 minutes", 15 * time.Minute},
		{"2second", 2 * time.Second},
		{"5s", 5 * time.Second},
		{"1m30s", 90 * time.Second},
		{"60", time.Minute},
		{"", 0},
		{"fortnight", 0},
		{"-5s", 0},
	}
	for _, tt := range tests {
		if got := parseWindow(tt.give); got != tt.want {
			t.Errorf("parseWindow(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}
