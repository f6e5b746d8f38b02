// Command example shows what ratehttp does, and is a load-test client for any
// HTTP API.
//
// Run without flags, it starts a simulated API on loopback that allows 100
// requests per 5-second window, drives it for 20 seconds from 32 goroutines
// with unlimited demand, and prints a progress line and a summary: the client
// uses the whole quota and almost never hears 429.
//
//	go run ./example
//
// With -url it loads a real API instead, in the closed model (-c workers) or,
// with -rate, the open model (a constant arrival rate):
//
//	go run ./example -url https://api.example.com/v1/items -H "Authorization: Bearer $TOKEN" -n 500 -c 8
//	go run ./example -url https://api.example.com/v1/items -rate 50 -duration 1m -report run.html
//
// -out writes the per-second series and the summary as CSV or JSON lines,
// -report an HTML report with charts, and -thresholds sets the exit status
// from conditions such as p99<2s. See -h for every flag.
//
// The client itself is the package internal/loadtest, so that the
// redisquota module can run it with a shared budget in Redis (-redis, in
// redisquota/cmd/loadtest) without this module depending on Redis.
//
// Exit status: 0 when the run completed and every request succeeded or was
// held back by the quota (with -thresholds: when every condition held); 1 when
// requests failed for another reason (without -thresholds) or the run could
// not be done; 2 for bad flags; 3 when a -thresholds condition did not hold.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ratehttp/ratehttp/internal/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// After the first Ctrl-C the run winds down and prints its summary; a
	// second one kills the program as usual.
	context.AfterFunc(ctx, stop)
	os.Exit(loadtest.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, loadtest.Options{}))
}
