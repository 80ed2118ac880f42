// handover.go: the listening socket outlives the instance, so a restart resets nothing.
//
// A graceful shutdown that closes its listening socket still loses connections: those the
// kernel had already accepted (handshake done, waiting in the socket's accept queue) when the
// socket closed are reset, and those arriving before the next instance is listening are
// refused. Either way the caller sees an error although no request was cut. http.Server's
// Shutdown closes the listener first thing; behind a load balancer that stops routing to the
// instance before SIGTERM (a Kubernetes endpoint removal plus a drain delay) nothing arrives
// there any more and that is fine. Here the callers reach the instance directly (through
// faultline's ingress proxy, one fixed address), so the socket is handed over instead, the way
// HAProxy's seamless reload (`expose-fd listeners`, `-x`), Envoy's hot restart and systemd's
// socket activation do it:
//
//   - every instance started with -handover PATH serves the listening socket's descriptor on the
//     unix socket PATH (SCM_RIGHTS) to whoever asks: its successor;
//   - a new instance started with -handover PATH asks first; if an instance answers, it serves
//     on that same socket (no bind), else it binds -listen (retrying while the address is still
//     held, for at most -handover-wait); so it does too when the instance it reached exits
//     before answering (the connection is reset: -bug=no-graceful exits at once on SIGTERM, and
//     a successor started right after the signal may connect in that instant);
//   - the instance serves on a duplicate of the socket's descriptor and keeps the original: on
//     SIGTERM, Shutdown closes the duplicate (no more accepts) and drains, while the socket stays
//     open; connections arriving meanwhile wait in its accept queue, and the successor accepts
//     them. The old instance closes the original once it has handed it over (or after
//     -handover-wait when no successor asked: a plain stop).
//
// So a restart (SIGTERM, then the same command again) has no moment where the address refuses
// or resets a connection; what it still depends on is the SIGTERM handling (-bug=no-graceful
// exits at once: the requests in flight are cut, and the socket closes with them).
package main

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"syscall"
	"time"
)

// takeListener asks the instance serving PATH for its listening socket. nil, nil: nobody
// answered (the first instance, or the previous one already gone).
func takeListener(path string) (*net.TCPListener, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, nil
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	oob := make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("handover from %s: %v", path, err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("handover from %s: no descriptor received", path)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("handover from %s: no descriptor received", path)
	}
	f := os.NewFile(uintptr(fds[0]), "handed-over listener")
	defer f.Close()
	ln, err := net.FileListener(f) // its own duplicate, non-blocking, in the runtime's poller
	if err != nil {
		return nil, fmt.Errorf("handover from %s: %v", path, err)
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, errors.New("handover: the descriptor received is not a TCP listener")
	}
	return tl, nil
}

// bindRetry binds addr, retrying while it is still in use (a predecessor that is exiting
// without handing its socket over), for at most wait.
func bindRetry(addr string, wait time.Duration) (*net.TCPListener, error) {
	deadline := time.Now().Add(wait)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln.(*net.TCPListener), nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveHandover answers every connection on PATH with held's descriptor; handed is closed
// after the first successful handover. The unix socket's file is not removed on close: by
// then it belongs to the successor, which bound the same path again.
func serveHandover(path string, held *net.TCPListener, handed chan struct{}) error {
	os.Remove(path) // a predecessor's (already answered) or a stale one
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	ul.SetUnlinkOnClose(false)
	raw, err := held.SyscallConn()
	if err != nil {
		return err
	}
	go func() {
		once := false
		for {
			c, err := ul.AcceptUnix()
			if err != nil {
				return
			}
			var werr error
			raw.Control(func(fd uintptr) {
				_, _, werr = c.WriteMsgUnix([]byte("L"), syscall.UnixRights(int(fd)), nil)
			})
			c.Close()
			if werr != nil {
				log.Printf("handover: %v", werr)
				continue
			}
			log.Printf("handover: listening socket handed to a successor")
			if !once {
				once = true
				close(handed)
			}
		}
	}()
	return nil
}

// serving returns a second descriptor on held's socket for http.Server to accept on and close.
func serving(held *net.TCPListener) (net.Listener, error) {
	f, err := held.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return net.FileListener(f)
}
