// Package proxy runs real reverse proxies, nginx and HAProxy, as rate
// limiters in front of an upstream HTTP server, for conformance tests of the
// ratehttp transport against limiters it did not write.
//
// Each proxy is started as the current user, in the foreground, listening on a
// free port of 127.0.0.1, with its configuration, pid file, logs and temporary
// files all inside a directory the caller gives (typically t.TempDir()):
// nothing is written to /etc, /var or /run. The process runs in a process group
// of its own, which Stop kills and waits for, so that no worker is left behind.
//
//   - [StartNginx]: nginx limit_req (a leaky bucket with a burst) that rejects
//     with 429 and, optionally, Retry-After: 1, and sends no quota headers at
//     all.
//   - [StartHAProxy]: an HAProxy stick table that counts every request it sees,
//     the rejected ones included, denies with 429 above a limit per window, and
//     reports the seed vendor's headers X-Ratelimit (the limit),
//     X-Ratelimit-Used (the REMAINING requests, despite its name) and
//     X-Ratelimit-Window on every response, 200 and 429 alike.
//
// HAProxy's http_req_rate is not an exact sliding window. The stick table
// entry counts requests in fixed periods of Window, the first one starting at
// the entry's first request (or its first after two idle periods), and reads
// the rate as curr + prev × (time left in the current period) / Window,
// rounded down. So:
//   - a client keeping to the limit rate once denied stays denied until about
//     two windows have passed, since its denied requests count; one sending
//     above the limit rate stays denied for good;
//   - a client that goes silent is let back in gradually: after one window
//     of silence its previous period still weighs, and only after two windows
//     (from the start of its last period) is its count certainly zero;
//   - X-Ratelimit-Used (remaining) is max(0, Limit − rate) as the request saw
//     it, the request itself included: Limit−1 on a client's first request.
//
// nginx's limit_req is a leaky bucket accounted in milliseconds: Burst+1
// requests pass at once, then one every Per/Rate. nginx needs version 1.19.5
// or later (for -e), HAProxy 2.2 or later (for http-after-response).
//
// The package uses the standard library only. The binaries come from the
// Debian packages nginx-light (or nginx) and haproxy; [Available] tells
// whether one is installed, so tests can skip without it.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// startTimeout bounds the wait for a started proxy to accept connections.
	startTimeout = 5 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 3 * time.Second
	// logTail is how much of a log an error quotes.
	logTail = 2048
)

// Available reports whether binary (such as "nginx" or "haproxy", or a path)
// can be run, as [exec.LookPath] finds it.
func Available(binary string) bool {
	_, err := exec.LookPath(binary)
	return err == nil
}

// process is a started proxy: a process group led by cmd.
type process struct {
	name    string // "nginx" or "haproxy", for errors
	cmd     *exec.Cmd
	logPath string        // the process's stdout and stderr
	done    chan struct{} // closed when cmd.Wait returns
	waitErr error         // cmd.Wait's result, valid after done

	stopOnce sync.Once
	stopErr  error
}

// errBind marks a start that failed because the port was taken.
var errBind = errors.New("port in use")

// start runs cmd (its output to logPath) in a new process group and waits
// until addr accepts connections, the process exits, ctx is done or
// startTimeout passes. extraLogs are quoted too when the start fails.
func start(ctx context.Context, name string, cmd *exec.Cmd, addr, logPath string, extraLogs ...string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("proxy: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	fail := func(why string) error {
		_ = p.Stop()
		logs := tail(logPath)
		for _, l := range extraLogs {
			if t := tail(l); t != "" {
				logs += "\n--- " + filepath.Base(l) + " ---\n" + t
			}
		}
		err := fmt.Errorf("proxy: %s (%s) %s; log:\n%s", name, strings.Join(cmd.Args, " "), why, logs)
		if strings.Contains(logs, "in use") || strings.Contains(logs, "cannot bind") {
			err = fmt.Errorf("%w: %w", errBind, err)
		}
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	for {
		select {
		case <-p.done:
			return nil, fail(fmt.Sprintf("exited before accepting connections: %v", p.waitErr))
		default:
		}
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fail(fmt.Sprintf("exited before accepting connections: %v", p.waitErr))
		case <-ctx.Done():
			return nil, fail(fmt.Sprintf("did not accept connections on %s: %v", addr, ctx.Err()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM to the process group, SIGKILL after stopTimeout, and
// waits for the leader. It is safe to call more than once.
func (p *process) Stop() error {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid // Setpgid: the leader's pid is the group's id
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-p.done
			}
		}
		// Any member still in the group (a worker whose master died) goes
		// too; ESRCH when none is left.
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.stopErr = fmt.Errorf("proxy: kill %s group %d: %w", p.name, pgid, err)
		}
	})
	return p.stopErr
}

// tail returns the last logTail bytes of the file at path, or "".
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return string(bytes.TrimSpace(b))
}

// freeAddr returns 127.0.0.1:port for a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("proxy: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// upstreamHostPort checks that upstream is http://host:port (an optional "/"
// path) and returns host:port.
func upstreamHostPort(upstream string) (string, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", fmt.Errorf("proxy: upstream %q: %w", upstream, err)
	}
	if u.Scheme != "http" || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("proxy: upstream %q: want http://host:port", upstream)
	}
	if strings.ContainsAny(u.Host, " \t\r\n;{}\"'#") {
		return "", fmt.Errorf("proxy: upstream %q: bad host", upstream)
	}
	return u.Host, nil
}

// checkDir checks that dir is an absolute path without characters the config
// files cannot quote.
func checkDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(abs, " \t\r\n;{}\"'#$\\") {
		return "", fmt.Errorf("proxy: directory %q: unsupported characters", abs)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}
	return abs, nil
}

// startRetry runs try once, and once more when the port it picked was taken.
func startRetry[T any](try func() (T, error)) (T, error) {
	v, err := try()
	if errors.Is(err, errBind) {
		v, err = try()
	}
	return v, err
}
