// Command fleetclient is one process of redisquota's fleet tests: workers
// sending requests through one ratehttp Transport whose shared budget is a
// redisquota.Budget, from a given instant for a given time. It reads its
// spec as JSON from the REDISQUOTA_FLEET environment variable and prints a
// report as JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ratehttp/ratehttp"
	"github.com/ratehttp/ratehttp/redisquota"
	"github.com/ratehttp/ratehttp/redisquota/internal/fleet"
)

func main() {
	var spec fleet.Spec
	if err := json.Unmarshal([]byte(os.Getenv("REDISQUOTA_FLEET")), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "fleetclient:", err)
		os.Exit(2)
	}
	rep, err := run(spec)
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(rep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetclient:", err)
		os.Exit(1)
	}
}

func run(spec fleet.Spec) (fleet.Report, error) {
	rdb := redis.NewClient(&redis.Options{Addr: spec.Redis})
	defer rdb.Close()
	var opts []redisquota.Option
	if spec.Limit > 0 {
		opts = append(opts, redisquota.WithLimit(spec.Limit, spec.Window))
	}
	budget := redisquota.New(rdb, opts...)
	reg := prometheus.NewRegistry()
	reg.MustRegister(budget)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = spec.Workers
	tr := ratehttp.New(base, ratehttp.WithSharedBudget(budget))
	reg.MustRegister(tr)
	client := &http.Client{Transport: tr}

	var (
		mu  sync.Mutex
		rep = fleet.Report{Metrics: map[string]float64{}}
	)
	end := spec.Start.Add(spec.Duration)
	time.Sleep(time.Until(spec.Start))
	// A process that wakes late (started late, or left waiting) loses the
	// start of the run: it counts as a stall, like one during the run.
	late := time.Since(spec.Start)
	stop := make(chan struct{})
	stalled := make(chan time.Duration)
	go func() { stalled <- fleet.WatchStalls(stop) }()
	var wg sync.WaitGroup
	for range spec.Workers {
		wg.Go(func() {
			for time.Until(end) > 10*time.Millisecond {
				deadline := time.Now().Add(spec.Timeout)
				if deadline.After(end) {
					deadline = end
				}
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, spec.URL+"/v1/items", nil)
				resp, err := client.Do(req)
				late := time.Since(deadline)
				var wait time.Duration
				mu.Lock()
				switch {
				case err == nil:
					switch resp.StatusCode {
					case http.StatusOK:
						rep.OK++
					case http.StatusTooManyRequests:
						rep.Throttled++
					default:
						rep.Failed++
					}
					resp.Body.Close()
				case errors.Is(err, ratehttp.ErrRateLimited):
					rep.Refused++
					if rl, ok := errors.AsType[*ratehttp.RateLimitError](err); ok {
						wait = rl.Wait
					}
				case ctx.Err() != nil && deadline.Equal(end):
					// cut off by the end of the run
				default:
					rep.Failed++
				}
				if late > fleet.LateSlack {
					rep.Late++
				}
				rep.MaxLate = max(rep.MaxLate, int64(late))
				mu.Unlock()
				cancel()
				if wait > 0 {
					time.Sleep(min(wait, time.Until(end)))
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	rep.Stall = int64(max(<-stalled, late))

	mfs, err := reg.Gather()
	if err != nil {
		return rep, err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != "result" {
					name += "/" + l.GetValue()
				}
			}
			switch {
			case m.Counter != nil:
				rep.Metrics[name] += m.Counter.GetValue()
			case m.Gauge != nil:
				rep.Metrics[name] += m.Gauge.GetValue()
			}
		}
	}
	return rep, nil
}
