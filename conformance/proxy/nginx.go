package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// NginxConfig configures [StartNginx].
type NginxConfig struct {
	// Upstream is the server nginx proxies to, as http://127.0.0.1:port
	// (httptest.Server.URL). Required.
	Upstream string
	// Rate is the number of requests allowed per Per, at least 1: nginx's
	// limit_req_zone rate=<Rate>r/s or r/m. nginx lets one request through
	// every Per/Rate (it accounts in milliseconds), not Rate at once.
	Rate int
	// Per is time.Second (the default when 0) or time.Minute; nginx knows no
	// other unit.
	Per time.Duration
	// Burst is limit_req's burst, served at once (nodelay): a client arriving
	// with an empty bucket gets Burst+1 requests through immediately, then one
	// every Per/Rate. 0 means no burst.
	Burst int
	// RetryAfter adds "Retry-After: 1" to the 429 responses. nginx sends no
	// other hint: no quota headers, ever.
	RetryAfter bool
	// Binary is the nginx executable; "nginx" (looked up in PATH) when empty.
	Binary string
}

// Nginx is a running nginx started by [StartNginx].
type Nginx struct {
	// URL is the proxy's base URL, http://127.0.0.1:port, without a
	// trailing slash.
	URL string
	// Dir holds nginx.conf, nginx.pid, error.log, nginx.out (stdout and
	// stderr) and the temporary directories.
	Dir string

	p *process
}

// nginxTemplate is the configuration. nginx runs with "daemon off;
// master_process off;" given on the command line: a single process, in the
// foreground, that Stop kills.
var nginxTemplate = template.Must(template.New("nginx.conf").Parse(`# Written by github.com/ratehttp/ratehttp/conformance/proxy.
worker_processes 1;
pid {{.Dir}}/nginx.pid;
lock_file {{.Dir}}/nginx.lock;
error_log {{.Dir}}/error.log warn;

events {
    worker_connections 256;
}

http {
    access_log off;
    default_type text/plain;
    client_body_temp_path {{.Dir}}/tmp/client_body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;

    limit_req_zone $binary_remote_addr zone=z:1m rate={{.Rate}}r/{{.Unit}};
    limit_req_status 429;
    limit_req_log_level warn;

    server {
        listen {{.Listen}};
        server_name localhost;

        location / {
            limit_req zone=z{{if .Burst}} burst={{.Burst}}{{end}} nodelay;
            error_page 429 @ratelimited;

            proxy_pass http://{{.Upstream}};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_request_buffering off;
        }

        location @ratelimited {
{{- if .RetryAfter}}
            add_header Retry-After 1 always;
{{- end}}
            return 429;
        }
    }
}
`))

// StartNginx writes dir/nginx.conf from cfg and starts nginx with it, as
//
//	nginx -p <dir>/ -e <dir>/error.log -c <dir>/nginx.conf -g 'daemon off; master_process off;'
//
// listening on a free port of 127.0.0.1. It returns once the port accepts
// connections (within 5 s), or an error quoting nginx's output and error log;
// it tries a second port if the first was taken meanwhile. ctx bounds the
// start only: the process runs until [Nginx.Stop].
func StartNginx(ctx context.Context, dir string, cfg NginxConfig) (*Nginx, error) {
	up, err := upstreamHostPort(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if cfg.Rate < 1 || cfg.Burst < 0 {
		return nil, fmt.Errorf("proxy: nginx: rate %d, burst %d: want rate ≥ 1, burst ≥ 0", cfg.Rate, cfg.Burst)
	}
	unit := "s"
	switch cfg.Per {
	case 0, time.Second:
	case time.Minute:
		unit = "m"
	default:
		return nil, fmt.Errorf("proxy: nginx: per %v: want time.Second or time.Minute", cfg.Per)
	}
	if dir, err = checkDir(dir); err != nil {
		return nil, err
	}
	bin := cfg.Binary
	if bin == "" {
		bin = "nginx"
	}
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, "tmp", d), 0o755); err != nil {
			return nil, err
		}
	}
	return startRetry(func() (*Nginx, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		var conf strings.Builder
		err = nginxTemplate.Execute(&conf, map[string]any{
			"Dir": dir, "Listen": addr, "Upstream": up,
			"Rate": cfg.Rate, "Unit": unit, "Burst": cfg.Burst, "RetryAfter": cfg.RetryAfter,
		})
		if err != nil {
			return nil, err
		}
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
			return nil, err
		}
		errorLog := filepath.Join(dir, "error.log")
		cmd := exec.Command(bin,
			"-p", dir+"/",
			"-e", errorLog,
			"-c", confPath,
			"-g", "daemon off; master_process off;")
		cmd.Dir = dir
		p, err := start(ctx, "nginx", cmd, addr, filepath.Join(dir, "nginx.out"), errorLog)
		if err != nil {
			return nil, err
		}
		return &Nginx{URL: "http://" + addr, Dir: dir, p: p}, nil
	})
}

// Stop stops nginx and waits for it to exit. It is safe to call more than
// once.
func (n *Nginx) Stop() error { return n.p.Stop() }

// Log returns the end of nginx's error log (rejections are logged there at
// level warn).
func (n *Nginx) Log() string { return tail(filepath.Join(n.Dir, "error.log")) }
