package redisquota

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server process started by a test on a free
// loopback port, without persistence.
type redisServer struct {
	t    testing.TB
	bin  string
	addr string
	dir  string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// startRedis starts redis-server for t and stops it in t's cleanup. It skips
// t when redis-server is not installed, unless the CI environment variable
// is set.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/redis-server"); statErr == nil {
			bin, err = "/usr/bin/redis-server", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found, and CI is set: %v", err)
		}
		t.Skipf("redis-server not found (install Debian's redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rs := &redisServer{t: t, bin: bin, addr: addr, dir: t.TempDir()}
	rs.start()
	t.Cleanup(rs.stop)
	return rs
}

// start starts the process on rs.addr and waits until it answers PING.
func (rs *redisServer) start() {
	rs.t.Helper()
	if err := rs.launch(); err != nil {
		rs.t.Fatal(err)
	}
}

// launch is start, returning its error: for goroutines other than the
// test's.
func (rs *redisServer) launch() error {
	_, port, _ := net.SplitHostPort(rs.addr)
	rs.out = new(bytes.Buffer)
	rs.cmd = exec.Command(rs.bin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", rs.dir)
	rs.cmd.Stdout, rs.cmd.Stderr = rs.out, rs.out
	if err := rs.cmd.Start(); err != nil {
		rs.cmd = nil
		return fmt.Errorf("start redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: rs.addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			rs.stop()
			return fmt.Errorf("redis-server on %s did not answer PING within 5s: %v; output: %s", rs.addr, err, rs.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the process, if running, and waits for it.
func (rs *redisServer) stop() {
	if rs.cmd == nil {
		return
	}
	rs.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies only once resumed
	rs.cmd.Process.Kill()
	rs.cmd.Wait()
	rs.cmd = nil
}

// pause stops the process (SIGSTOP): connections stay open and calls hang.
func (rs *redisServer) pause() { rs.cmd.Process.Signal(syscall.SIGSTOP) }

// resume resumes a paused process.
func (rs *redisServer) resume() { rs.cmd.Process.Signal(syscall.SIGCONT) }

// client returns a client of rs, closed in t's cleanup.
func (rs *redisServer) client(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: rs.addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
