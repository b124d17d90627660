// Command healthcheck tells whether the App in the same container is up: it asks
// http://127.0.0.1:$PORT/healthz and exits 0 on 200, 1 otherwise. The image's HEALTHCHECK runs
// it, because a scratch image has no shell, curl or wget.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := check(os.Getenv("PORT"), 2*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		os.Exit(1)
	}
}

// check asks the App listening on port (empty: 8080, the App's default) for /healthz.
func check(port string, timeout time.Duration) error {
	if port == "" {
		port = "8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("PORT %q is not a port number", port)
	}
	client := &http.Client{Timeout: timeout}
	res, err := client.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", res.StatusCode)
	}
	return nil
}
