// pqpool -- a Go database/sql pool over lib/pq that idles between two queries: the peer of
// tests/faults/stale_idle_go.sh.
//
// What: opens a *sql.DB (lib/pq, Debian's golang-github-lib-pq-dev, built in GOPATH mode),
// runs `SELECT pg_backend_pid()` (with -params: `+ $1`) once, leaves the pool idle for -pause, runs it again with a
// context deadline (-timeout), then once more at once. Each query prints one line of facts
// (result, the backend pid that answered, the time it took, its start in Unix ms, and what the
// error is: driver.ErrBadConn, context.DeadlineExceeded, ECONNRESET, a *net.OpError), and the
// pool's sql.DBStats close the output. A query still blocked after -hang is reported as hung (its
// goroutine is left behind; the program exits after the last line).
// Why: a stale_idle fault kills an idle pooled connection silently; what the pool and the
// driver then do -- retry on a new connection, return an error, or wait -- is what a Go
// service sees, and the test asserts it from these lines.
// What not: no retries of its own, no Ping before use: it is the plain pool a service uses.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	_ "github.com/lib/pq"
)

type result struct {
	pid int
	err error
}

// sqlText is the query; with -params it takes a parameter, so lib/pq uses the extended protocol
// (Parse/Bind/Execute) instead of a simple Query message.
var sqlText = "SELECT pg_backend_pid()"
var sqlArgs []interface{}

// query runs sqlText with a deadline (none when timeout is 0) and prints its line.
func query(db *sql.DB, n int, timeout, hang time.Duration) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	done := make(chan result, 1)
	t0 := time.Now()
	go func() {
		var r result
		r.err = db.QueryRowContext(ctx, sqlText, sqlArgs...).Scan(&r.pid)
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(hang):
		fmt.Printf("q=%d result=hung ms=%.0f at=%d\n", n, ms(t0), t0.UnixMilli())
		return
	}
	if r.err == nil {
		fmt.Printf("q=%d result=ok pid=%d ms=%.1f at=%d\n", n, r.pid, ms(t0), t0.UnixMilli())
		return
	}
	var op *net.OpError
	opname := "-"
	if errors.As(r.err, &op) {
		opname = op.Op
	}
	fmt.Printf("q=%d result=err ms=%.1f at=%d badconn=%t deadline=%t econnreset=%t netop=%s err=%s\n", n, ms(t0), t0.UnixMilli(),
		errors.Is(r.err, driver.ErrBadConn), errors.Is(r.err, context.DeadlineExceeded),
		errors.Is(r.err, syscall.ECONNRESET), opname, strconv.Quote(r.err.Error()))
}

func ms(t0 time.Time) float64 { return float64(time.Since(t0).Microseconds()) / 1000 }

func main() {
	dsn := flag.String("dsn", "", "lib/pq connection string")
	pause := flag.Duration("pause", 1500*time.Millisecond, "idle time between the first and the second query")
	timeout := flag.Duration("timeout", 0, "the second and third queries' context deadline (0: none)")
	maxIdle := flag.Duration("max-idle-time", 0, "sql.DB.SetConnMaxIdleTime (0: unset)")
	hang := flag.Duration("hang", 6*time.Second, "a query still blocked after this is reported as hung")
	params := flag.Bool("params", false, "SELECT pg_backend_pid() + $1 (the extended protocol)")
	flag.Parse()
	if *params {
		sqlText, sqlArgs = "SELECT pg_backend_pid() + $1::int", []interface{}{0}
	}
	db, err := sql.Open("postgres", *dsn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pqpool: %v\n", err)
		os.Exit(2)
	}
	db.SetMaxIdleConns(2)
	if *maxIdle > 0 {
		db.SetConnMaxIdleTime(*maxIdle)
	}
	query(db, 1, 0, *hang)
	time.Sleep(*pause)
	query(db, 2, *timeout, *hang)
	query(db, 3, *timeout, *hang)
	s := db.Stats()
	fmt.Printf("stats open=%d in_use=%d idle=%d max_idle_time_closed=%d\n",
		s.OpenConnections, s.InUse, s.Idle, s.MaxIdleTimeClosed)
	os.Exit(0)
}
