// Command memory measures the heap one retried upload costs.
//
// Each client sends one PUT with a streamed body (64 MiB by default, offered
// again through GetBody) to a stub base transport that drains the body and
// answers 503 three times, then 200, so the body crosses four times. The
// command prints the peak of HeapAlloc above the live heap before the call
// (sampled with runtime.ReadMemStats every -interval) and the TotalAlloc
// delta, as the median of -count runs.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	sizeMiB := flag.Int64("size", 64, "body size in MiB")
	count := flag.Int("count", 3, "runs per client; the median is printed")
	interval := flag.Duration("interval", 500*time.Microsecond, "HeapAlloc sampling interval")
	flag.Parse()
	if *sizeMiB < 1 || *count < 1 || *interval <= 0 {
		fmt.Fprintln(os.Stderr, "memory: -size, -count and -interval must be positive")
		os.Exit(2)
	}
	size := *sizeMiB << 20

	fmt.Printf("memory: PUT of %d MiB behind GetBody, stub base answers 503 ×%d then 200; median of %d runs\n\n", *sizeMiB, retries, *count)
	fmt.Println("| client | attempts × MiB received | peak HeapAlloc Δ | TotalAlloc Δ | time |")
	fmt.Println("|---|---|---:|---:|---:|")
	for _, c := range clients {
		var ms []measurement
		for range *count {
			m, err := measure(c, size, *interval)
			if err != nil {
				fmt.Fprintln(os.Stderr, "memory:", err)
				os.Exit(1)
			}
			ms = append(ms, m)
		}
		m := median(ms)
		fmt.Printf("| %s | %s | %s | %s | %s |\n", c.name, describe(m.attempts), mib(m.peak), mib(m.totalAlloc), m.elapsed.Round(time.Millisecond))
	}
	fmt.Println("\nClients:")
	for _, c := range clients {
		fmt.Printf("- %s: %s\n", c.name, c.note)
	}
}

// median picks, field by field, the median of the runs.
func median(ms []measurement) measurement {
	pick := func(f func(measurement) uint64) uint64 {
		v := make([]uint64, len(ms))
		for i, m := range ms {
			v[i] = f(m)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	out := ms[0]
	out.peak = pick(func(m measurement) uint64 { return m.peak })
	out.totalAlloc = pick(func(m measurement) uint64 { return m.totalAlloc })
	out.elapsed = time.Duration(pick(func(m measurement) uint64 { return uint64(m.elapsed) }))
	return out
}

func describe(sizes []int64) string {
	parts := make([]string, len(sizes))
	for i, n := range sizes {
		parts[i] = fmt.Sprintf("%.0f", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d × (%s)", len(sizes), strings.Join(parts, ", "))
}

func mib(n uint64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
