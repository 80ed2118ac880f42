// go-service: a small checkout service with switches for the classic Go backend bugs.
//
// It serves GET /checkout by calling an HTTP dependency (-dep, normally through faultline)
// and answering 200 with the dependency's answer, or 503 quickly when the dependency is down
// (a fallback). Each -bug flag switches one classic failure on; with no flag set it behaves:
//
//	-bug=goroutine-leak  the dependency call runs in its own goroutine with no bound and no
//	                     cancellation: the handler gives up after 1s but the goroutine waits on
//	                     a hung dependency forever (goroutines grow without bound)
//	-bug=no-timeout      http.Client{} with no timeout and no MaxIdleConnsPerHost: a hung
//	                     dependency hangs every request, and the idle pool churns connections
//	-bug=body-leak       response bodies are never closed: connections are never reused and leak
//	-bug=no-breaker      no circuit breaker: a failing dependency gets every call, at full rate
//	-bug=no-graceful     SIGTERM exits at once: in-flight requests are cut off
//
// Several -bug flags may be given (comma list). /debug/pprof and /debug/vars are served on the
// same address for faultline's probes.
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	listen  = flag.String("listen", "127.0.0.1:8080", "address to serve on")
	dep     = flag.String("dep", "http://127.0.0.1:18080/", "dependency URL (through faultline)")
	bugs    = flag.String("bug", "", "comma list: goroutine-leak,no-timeout,body-leak,no-breaker,no-graceful")
	timeout = flag.Duration("timeout", 500*time.Millisecond, "dependency call timeout (fixed mode)")
	maxConc = flag.Int("max-concurrency", 20, "bound on concurrent dependency calls (fixed mode)")

	calls    = expvar.NewInt("dependency_calls")
	failures = expvar.NewInt("dependency_failures")
	rejected = expvar.NewInt("breaker_rejected")
)

func bug(name string) bool {
	for _, b := range strings.Split(*bugs, ",") {
		if strings.TrimSpace(b) == name {
			return true
		}
	}
	return false
}

// breaker: opens after 5 consecutive failures, stays open 2s, then lets one probe through.
type breaker struct {
	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < 5 {
		return true
	}
	if time.Now().Before(b.openUntil) || b.probing {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) done(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= 5 {
		b.openUntil = time.Now().Add(2 * time.Second)
	}
}

func main() {
	flag.Parse()
	var client *http.Client
	if bug("no-timeout") {
		client = &http.Client{}
	} else {
		client = &http.Client{
			Timeout:   *timeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: *maxConc, MaxConnsPerHost: *maxConc, IdleConnTimeout: 30 * time.Second},
		}
	}
	sem := make(chan struct{}, *maxConc)
	br := &breaker{}

	call := func(ctx context.Context) (string, error) {
		calls.Add(1)
		req, _ := http.NewRequestWithContext(ctx, "GET", *dep, nil)
		resp, err := client.Do(req)
		if err != nil {
			failures.Add(1)
			return "", err
		}
		if bug("body-leak") {
			// the classic: read the status, forget the body
			if resp.StatusCode >= 500 {
				failures.Add(1)
				return "", fmt.Errorf("status %d", resp.StatusCode)
			}
			return "ok", nil
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode >= 500 {
			failures.Add(1)
			if err == nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return "", err
		}
		return string(body), nil
	}

	http.HandleFunc("/checkout", func(w http.ResponseWriter, r *http.Request) {
		if !bug("no-breaker") && !br.allow() {
			rejected.Add(1)
			http.Error(w, "dependency unavailable (breaker open)", http.StatusServiceUnavailable)
			return
		}
		var body string
		var err error
		if bug("goroutine-leak") {
			// unbounded, uncancellable: the goroutine outlives the request
			ch := make(chan error, 1)
			go func() {
				_, e := call(context.Background())
				ch <- e
			}()
			select {
			case err = <-ch:
			case <-time.After(time.Second):
				err = errors.New("gave up waiting")
			}
		} else {
			select {
			case sem <- struct{}{}:
				body, err = call(r.Context())
				<-sem
			default:
				err = errors.New("too many concurrent dependency calls")
			}
		}
		if !bug("no-breaker") {
			br.done(err == nil)
		}
		if err != nil {
			http.Error(w, "dependency failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "checkout ok: %s\n", strings.TrimSpace(body))
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })

	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("go-service listening on %s, dependency %s, bugs %q", ln.Addr(), *dep, *bugs)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		if bug("no-graceful") {
			log.Printf("SIGTERM: exiting at once")
			os.Exit(0)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		log.Printf("SIGTERM: draining")
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Printf("stopped")
}
