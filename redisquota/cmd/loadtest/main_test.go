package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratehttp/ratehttp/internal/loadtest"
)

// startRedis starts redis-server on a free loopback port for t, or skips t
// without it (unless CI is set).
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found, and CI is set: %v", err)
		}
		t.Skipf("redis-server not found: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s within 5s", addr)
		}
	}
}

// TestTwoGenerators: two clients with -redis, one serving the simulated API
// on a fixed address and both loading it, split the quota and draw no 429.
func TestTwoGenerators(t *testing.T) {
	redisAddr := startRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := l.Addr().String()
	l.Close()
	common := []string{"-redis", redisAddr, "-json", "-c", "8", "-server-limit", "40", "-server-window", "1s", "-server-latency", "5ms"}
	args := [][]string{
		append([]string{"-server-addr", apiAddr, "-duration", "3s"}, common...),
		append([]string{"-url", "http://" + apiAddr + "/v1/items", "-duration", "2500ms"}, common...),
	}
	type summary struct {
		Successes int64 `json:"successes"`
		Statuses  map[string]int64
	}
	var (
		wg    sync.WaitGroup
		codes [2]int
		outs  [2]bytes.Buffer
		errs  [2]bytes.Buffer
	)
	for i := range args {
		if i == 1 {
			time.Sleep(300 * time.Millisecond) // the first one's API is up
		}
		wg.Go(func() {
			codes[i] = loadtest.Run(context.Background(), args[i], &outs[i], &errs[i], options())
		})
	}
	wg.Wait()
	for i := range args {
		if codes[i] != 0 {
			t.Fatalf("generator %d exited %d; stderr:\n%s", i, codes[i], errs[i].String())
		}
		if !strings.Contains(errs[i].String(), "Shared budget: Redis "+redisAddr) {
			t.Errorf("generator %d does not say it joined the shared budget; stderr:\n%s", i, errs[i].String())
		}
		var s summary
		if err := json.Unmarshal(outs[i].Bytes(), &s); err != nil {
			t.Fatalf("generator %d: %v\n%s", i, err, outs[i].String())
		}
		if s.Successes == 0 || s.Statuses["429"] != 0 {
			t.Errorf("generator %d: %d successes, %d 429s; want some, and none", i, s.Successes, s.Statuses["429"])
		}
	}
}

// TestRedisUnreachable: -redis with an address nothing answers ends the
// run at once with exit status 1.
func TestRedisUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var stderr bytes.Buffer
	code := loadtest.Run(context.Background(), []string{"-redis", addr, "-duration", "1s"}, io.Discard, &stderr, options())
	if code != 1 || !strings.Contains(stderr.String(), "loadtest: -redis "+addr) {
		t.Errorf("exit %d, stderr %q; want 1 and the -redis error", code, stderr.String())
	}
}
