// gotls -- an HTTPS client in Go's crypto/tls and net/http, for tests/verify/tls_verify.sh: the
// stack whose InsecureSkipVerify issue 21 names as the service that goes on with a bad certificate.
//
//	gotls PORT SNI CAFILE PATH verify|noverify COUNT
//
// COUNT requests to https://127.0.0.1:PORT/PATH, one new connection each, sending SNI and checking
// the certificate against CAFILE and SNI (verify) or not at all (noverify: InsecureSkipVerify). A
// 3 s timeout per request. Prints one line per request: "ok status=N bytes=N" or "error REASON".
// Standard library only (built in GOPATH mode, no module download).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: gotls PORT SNI CAFILE PATH verify|noverify COUNT")
		os.Exit(2)
	}
	port, sni, cafile, path, mode := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	count, err := strconv.Atoi(os.Args[6])
	if err != nil {
		fmt.Fprintln(os.Stderr, "COUNT:", err)
		os.Exit(2)
	}
	pem, err := os.ReadFile(cafile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: sni, InsecureSkipVerify: mode == "noverify"},
		DisableKeepAlives: true,
	}
	c := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	for i := 0; i < count; i++ {
		req, _ := http.NewRequest("GET", "https://127.0.0.1:"+port+path, nil)
		req.Host = sni
		r, err := c.Do(req)
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		fmt.Printf("ok status=%d bytes=%d\n", r.StatusCode, len(b))
	}
}
