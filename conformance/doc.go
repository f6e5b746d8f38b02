// Package conformance runs ratehttp against rate limiters written by other
// people: real middleware from the Go ecosystem (and, through the same case
// table, reverse proxies), each serving a trivial handler on a loopback TCP
// server, under unlimited demand from several goroutines.
//
// A [Case] names a limiter, says how it counts ([Family]) and what it allows
// (rate, burst, window), and starts a fresh instance of it ([Target]). [Run]
// drives one case with one kind of [Client] for a few of the server's
// windows and measures, at the server, how much of the server's allowance the
// client used, how many of its attempts were rejected, and the worst second
// of rejections; at the client, latency and local refusals. [Check] compares
// a [Result] with the targets of issue 18 and [Table] prints results as a
// markdown table.
//
// # Allowance
//
// The measured span starts after the server's first window (the client may
// spend it learning) and ends at the end of the run. What the server could
// have accepted in it depends on how it counts:
//
//   - [FixedWindow] and [SlidingWindow]: windows of [Case.Window] aligned to
//     [Target.Epoch] (or to the first request when that is zero). The span
//     is the whole windows after the first; the allowance is [Case.Burst]
//     requests per window.
//   - [WindowFromFirstRequest]: a window opens with the first request after
//     the previous window ended, so windows drift when the client is late.
//     The windows are replayed from the server's log; the span runs from the
//     end of the first window to the start of the window in progress when the
//     run ends (or to the end of the run), and the allowance is
//     [Case.Burst] per [Case.Window] of it: the time between windows counts
//     against the client, which could have opened the next window sooner.
//   - [TokenBucket] (also GCRA and leaky buckets with a burst): the span runs
//     from one [Case.Window] after the start to the end of the run; the
//     allowance is [Case.Rate] times its length plus the tokens the bucket
//     held at its start, replayed from the requests the server accepted
//     before (a bucket of [Case.Burst] tokens, full at the first request).
//
// Rejections are responses with status 429 or 503. Figures come from the
// server's own log ([Target.Log]) when the case has one, else from the
// attempts as the client sent them.
package conformance
