package main

import (
	"context"
	"net"
	"testing"
	"time"
)

// nonLoopbackIP returns an address of this machine other than loopback, or skips tb.
func nonLoopbackIP(tb testing.TB) string {
	tb.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	tb.Skip("this machine has no address but loopback")
	return ""
}

// TestListensOnLoopbackInDevelopmentMode: a development run (its generated credentials are
// printed, its store is the embedded one) is reachable from this machine only; production
// listens where it is configured to, every interface, behind the load balancer.
func TestListensOnLoopbackInDevelopmentMode(t *testing.T) {
	t.Parallel()
	ip := nonLoopbackIP(t)
	f := newFakes(t)
	tests := []struct {
		name     string
		env      map[string]string
		external bool // reachable on ip
	}{
		{name: "development mode", env: map[string]string{"DATA_DIR": t.TempDir()}},
		{name: "production", env: f.env(map[string]string{"DATA_DIR": t.TempDir(), "PUBLIC_BASE_URL": "https://app.example.com"}), external: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.env["PORT"] = "0"
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan string, 1)
			done := make(chan error, 1)
			go func() { done <- run(ctx, env(tt.env), &lockedBuffer{}, &lockedBuffer{}, ready) }()
			var addr string
			select {
			case addr = <-ready:
			case err := <-done:
				t.Fatalf("run: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not start")
			}
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run returned %v after stop", err)
				}
			}()
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.external && host != "127.0.0.1" {
				t.Errorf("listening on %s, want 127.0.0.1", addr)
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 5*time.Second)
			if err == nil {
				c.Close()
			}
			if reached := err == nil; reached != tt.external {
				t.Errorf("reachable on %s: %v, want %v (%v)", ip, reached, tt.external, err)
			}
		})
	}
}
