package redisquota

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/ratehttptest"
	"github.com/redis/go-redis/v9"

	fleetpkg "github.com/ratehttp/ratehttp/redisquota/internal/fleet"
)

// brokenRedis listens on loopback and misbehaves with every connection as
// serve says. It returns the address.
func brokenRedis(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go serve(c)
		}
	}()
	return l.Addr().String()
}

// TestBudgetBrokenRedis: whatever a Redis address does, Take returns an
// error matching ErrUnavailable within the timeout, and counts the
// fallback.
func TestBudgetBrokenRedis(t *testing.T) {
	closedAddr := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"connection refused", closedAddr},
		{"reset at once", func(t *testing.T) string {
			return brokenRedis(t, func(c net.Conn) { c.Close() })
		}},
		{"silent", func(t *testing.T) string {
			return brokenRedis(t, func(c net.Conn) { bufio.NewReader(c).ReadString(0) })
		}},
		{"garbage", func(t *testing.T) string {
			return brokenRedis(t, func(c net.Conn) {
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
				}
			})
		}},
		{"refusing", func(t *testing.T) string {
			return brokenRedis(t, func(c net.Conn) {
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					c.Write([]byte("-LOADING Redis is loading the dataset in memory\r\n"))
				}
			})
		}},
	}
	const timeout = 50 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: tt.addr(t)})
			defer rdb.Close()
			b := New(rdb, WithTimeout(timeout), WithLimit(100, time.Second))
			for i := range 3 {
				start := time.Now()
				_, err := b.Take(context.Background(), "k", ratehttp.SharedQuota{})
				if d := time.Since(start); d > timeout+slack {
					t.Errorf("Take #%d took %v, want at most the timeout %v (+%v)", i, d, timeout, slack)
				}
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("Take #%d error = %v, want ErrUnavailable", i, err)
				}
				if strings.Contains(err.Error(), "\"k\"") {
					t.Errorf("error %q names the quota key", err)
				}
			}
			if got := counter(t, b, "fallbacks"); got != 3 {
				t.Errorf("fallbacks = %v, want 3", got)
			}
		})
	}
}

// TestFleetFaults: four processes share a quota through a Redis that is
// killed and restarted, then paused (SIGSTOP) for longer than the timeout.
// No request returns past its deadline, no process fails, and the server
// rejects under 5% of the requests.
func TestFleetFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("real time: about 12s")
	}
	rs := startRedis(t)
	const limit, window = 1000, 2 * time.Second
	f := fleet{procs: 4, workers: 8, windows: 4,
		server: ratehttptest.Config{Limit: limit, Window: window, Latency: 5 * time.Millisecond},
		fault: func(t0 time.Time) {
			at := func(d time.Duration) { time.Sleep(time.Until(t0.Add(d))) }
			at(2 * time.Second)
			rs.stop()
			at(3500 * time.Millisecond)
			if err := rs.launch(); err != nil {
				t.Error(err)
				return
			}
			at(5500 * time.Millisecond)
			rs.pause()
			at(7 * time.Second)
			rs.resume()
		},
	}
	res := f.run(t, rs)
	res.log(t, limit)
	if share := float64(res.rejected) / float64(res.total); share >= 0.05 {
		t.Errorf("server rejected %d of %d requests (%.1f%%), want under 5%%", res.rejected, res.total, 100*share)
	}
	fallbacks := 0.0
	for i, rep := range res.reports {
		if rep.Late > 0 {
			t.Errorf("process %d: %d requests returned more than %v after their deadline (the latest %v)", i, rep.Late, fleetpkg.LateSlack, time.Duration(rep.MaxLate))
		}
		if rep.OK == 0 {
			t.Errorf("process %d: no request succeeded", i)
		}
		fallbacks += rep.Metrics["ratehttp_shared_fallbacks_total"]
	}
	if fallbacks == 0 {
		t.Error("no process fell back: the faults were not seen")
	}
}
