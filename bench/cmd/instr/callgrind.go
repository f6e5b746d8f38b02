package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Client request codes, as valgrind.h and callgrind.h number them: the core's
// RUNNING_ON_VALGRIND, and callgrind's TOGGLE_COLLECT (its tool base is 'C',
// 'T' in the two high bytes).
const (
	requestRunningOnValgrind = 0x1001
	requestToggleCollect     = 'C'<<24 | 'T'<<16 | 2
)

// runningOnValgrind reports whether the program runs under valgrind.
func runningOnValgrind() bool {
	args := [6]uint64{requestRunningOnValgrind}
	return clientRequest(&args) != 0
}

// toggleCollect switches callgrind's collection of events on or off for the
// calling thread. Outside callgrind it does nothing.
func toggleCollect() {
	args := [6]uint64{requestToggleCollect}
	clientRequest(&args)
}

// readTotal returns the total of the first event (Ir when callgrind counts
// instructions only) in a callgrind output file.
func readTotal(r io.Reader) (uint64, error) {
	var summary string
	events := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "events:"):
			events = strings.TrimSpace(strings.TrimPrefix(line, "events:"))
		case strings.HasPrefix(line, "totals:"):
			return parseTotal(events, strings.TrimPrefix(line, "totals:"))
		case strings.HasPrefix(line, "summary:"):
			summary = strings.TrimPrefix(line, "summary:")
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if summary != "" {
		return parseTotal(events, summary)
	}
	return 0, errors.New("no totals: or summary: line in callgrind output")
}

func parseTotal(events, values string) (uint64, error) {
	if first, _, _ := strings.Cut(events, " "); first != "Ir" {
		return 0, fmt.Errorf("callgrind output counts %q, want Ir first", events)
	}
	fields := strings.Fields(values)
	if len(fields) == 0 {
		return 0, errors.New("empty totals in callgrind output")
	}
	return strconv.ParseUint(fields[0], 10, 64)
}
