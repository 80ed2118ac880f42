// go-service: a small checkout service with switches for the classic Go backend bugs.
//
// It serves GET /checkout by calling an HTTP dependency (-dep, normally through faultline)
// and answering 200 with the dependency's answer, or 503 quickly when the dependency is down
// (a fallback). Each -bug flag switches one classic failure on; with no flag set it behaves:
//
//	-bug=goroutine-leak  the dependency call runs in its own goroutine with no bound and no
//	                     cancellation (context.Background(), a client with no timeout): the
//	                     handler gives up after 1s and answers 503, so callers see a healthy
//	                     service, but each goroutine waits on a hung dependency forever
//	                     (goroutines, connections and memory grow without bound)
//	-bug=no-timeout      http.Client{} with no timeout and no MaxIdleConnsPerHost: a hung
//	                     dependency holds every request until its caller gives up, and the idle
//	                     pool (2 per host) churns connections under load
//	-bug=body-leak       the body of a failed (5xx) answer is never closed, the call made like
//	                     http.Get (no request context; the client bounds only the wait for the
//	                     headers): each failed call leaves its connection and two transport
//	                     goroutines behind for good
//	-bug=no-breaker      no circuit breaker: a failing dependency gets every call, at full rate
//	-bug=no-graceful     SIGTERM exits at once: in-flight requests are cut off
//
// -pidfile PATH writes the pid once listening; restart.sh PATH restarts the instance (an
// [action] in profiles/scenarios/go-no-graceful.ini). -handover PATH passes the listening socket from an
// instance to its successor (handover.go), so a restart refuses and resets no connection.
//
// Fixed mode: a 500ms client timeout, at most 20 concurrent dependency calls, bodies always
// closed, the request's context on every call, a breaker, and a drain on SIGTERM (http.Server.Shutdown, and main waits for it).
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
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	listen   = flag.String("listen", "127.0.0.1:8080", "address to serve on")
	dep      = flag.String("dep", "http://127.0.0.1:18080/", "dependency URL (through faultline)")
	bugs     = flag.String("bug", "", "comma list: goroutine-leak,no-timeout,body-leak,no-breaker,no-graceful")
	timeout  = flag.Duration("timeout", 500*time.Millisecond, "dependency call timeout (fixed mode)")
	maxConc  = flag.Int("max-concurrency", 20, "bound on concurrent dependency calls (fixed mode)")
	pidfile  = flag.String("pidfile", "", "write the process id here once listening (for restart.sh)")
	handover = flag.String("handover", "", "unix socket path: take the listening socket from the instance serving it, and serve it to the next one (handover.go)")
	hoWait   = flag.Duration("handover-wait", 5*time.Second, "on SIGTERM, how long to keep the socket open for a successor to take it")

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
	expvar.Publish("goroutines", expvar.Func(func() interface{} { return runtime.NumGoroutine() }))
	var client *http.Client
	switch {
	case bug("no-timeout") || bug("goroutine-leak"):
		client = &http.Client{}
	case bug("body-leak"):
		// "we have timeouts": only on the wait for the answer's headers
		client = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: *timeout, MaxIdleConnsPerHost: *maxConc}}
	default:
		client = &http.Client{
			Timeout:   *timeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: *maxConc, MaxConnsPerHost: *maxConc, IdleConnTimeout: 30 * time.Second},
		}
	}
	sem := make(chan struct{}, *maxConc)
	br := &breaker{}

	call := func(ctx context.Context) (string, error) {
		calls.Add(1)
		if bug("body-leak") {
			ctx = context.Background() // like http.Get: nothing cancels the call once it returns
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", *dep, nil)
		resp, err := client.Do(req)
		if err != nil {
			failures.Add(1)
			return "", err
		}
		if bug("body-leak") && resp.StatusCode >= 500 {
			// the classic: check the status, return, forget the body on the error path
			failures.Add(1)
			return "", fmt.Errorf("status %d", resp.StatusCode)
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
	var held *net.TCPListener // the listening socket; with -handover it may come from the predecessor
	var err error
	if *handover != "" {
		if held, err = takeListener(*handover); err != nil {
			// the predecessor went away between our connect and its answer (-bug=no-graceful
			// exits at once on SIGTERM, a crash or a SIGKILL does the same): its socket closed
			// with it, so the address is bound anew, as when nobody answered
			log.Printf("%v: binding %s instead", err, *listen)
			held = nil
		}
		if held != nil {
			log.Printf("took the listening socket %s over from the previous instance", held.Addr())
		}
	}
	if held == nil {
		if held, err = bindRetry(*listen, *hoWait); err != nil {
			log.Fatal(err)
		}
	}
	handed := make(chan struct{})
	if *handover != "" {
		if err := serveHandover(*handover, held, handed); err != nil {
			log.Fatal(err)
		}
	}
	ln, err := serving(held) // Shutdown closes this one; held keeps the socket open
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("go-service listening on %s, dependency %s, bugs %q", ln.Addr(), *dep, *bugs)
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-sig
		if bug("no-graceful") {
			log.Printf("SIGTERM: exiting at once")
			os.Exit(0)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		log.Printf("SIGTERM: draining")
		srv.Shutdown(ctx) // stops accepting (closes ln, not the socket) and waits for the requests in flight
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	// Serve returns as soon as Shutdown closes the listener: returning from main now would
	// cut the requests Shutdown is still waiting for
	<-drained
	if *handover != "" {
		// connections queued on the socket since Shutdown stopped accepting are the successor's
		select {
		case <-handed:
		case <-time.After(*hoWait):
			log.Printf("no successor took the socket within %s: closing it", *hoWait)
		}
	}
	held.Close()
	log.Printf("stopped")
}
