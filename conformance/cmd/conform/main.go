// Command conform runs the conformance cases against ratehttp and its
// contrasts and prints the figures as a markdown table.
//
// Usage:
//
//	go run ./cmd/conform [-case regexp] [-duration d]
//
// Progress goes to stderr, the tables to stdout. The exit status is 1 when a
// case could not be run for a reason other than a missing server binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"time"

	"github.com/ratehttp/ratehttp/conformance"
)

func main() {
	caseRe := flag.String("case", "", "run only the cases whose name matches this regular expression")
	duration := flag.Duration("duration", 0, "length of each run (default: 10s or five windows, whichever is longer)")
	clientRe := flag.String("client", "", "run only the clients whose name matches this regular expression (ratehttp, plain, x/time/rate 97%)")
	incident := flag.Bool("incident", false, "run the incident of issue 18 instead of the cases: HAProxy at 1,200 requests per minute (use -duration 150s)")
	flag.Parse()
	clients, err := regexp.Compile(*clientRe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conform: -client: %v\n", err)
		os.Exit(2)
	}
	re, err := regexp.Compile(*caseRe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conform: -case: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	all := conformance.Cases()
	if *incident {
		all = []conformance.Case{conformance.IncidentCase()}
	}
	var cases []conformance.Case
	for _, c := range all {
		if re.MatchString(c.Name) {
			cases = append(cases, c)
		}
	}
	failed := false
	var rows []conformance.Row
	for _, c := range cases {
		for _, kind := range conformance.Clients {
			if ctx.Err() != nil {
				break
			}
			if !clients.MatchString(kind.String()) {
				continue
			}
			fmt.Fprintf(os.Stderr, "%s, %s ...\n", c.Name, kind)
			r, err := conformance.Run(ctx, c, kind, conformance.Options{Duration: *duration})
			rows = append(rows, conformance.Row{Case: c, Client: kind, Result: r, Err: err})
			switch {
			case errors.Is(err, conformance.ErrUnavailable):
				fmt.Fprintf(os.Stderr, "  skipped: %v\n", err)
			case err != nil:
				fmt.Fprintf(os.Stderr, "  error: %v\n", err)
				failed = true
			default:
				fmt.Fprintf(os.Stderr, "  %v\n", r)
			}
		}
	}
	fmt.Printf("Measured %s UTC; 8 workers with unlimited demand per run.\n\n", time.Now().UTC().Format("2006-01-02 15:04"))
	fmt.Println(conformance.Configs(cases))
	fmt.Print(conformance.Table(rows))
	if failed {
		os.Exit(1)
	}
}
