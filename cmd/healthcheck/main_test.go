package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// serve answers /healthz with status on a loopback port and returns the port.
func serve(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return port
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		port    string
		wantErr bool
	}{
		{name: "healthy", port: serve(t, http.StatusOK)},
		{name: "unhealthy status", port: serve(t, http.StatusServiceUnavailable), wantErr: true},
		{name: "nothing listening", port: closedPort(t), wantErr: true},
		{name: "not a port", port: "http", wantErr: true},
		{name: "port out of range", port: "70000", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := check(tt.port, 5*time.Second)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("check(%q) = %v, want error: %v", tt.port, err, tt.wantErr)
			}
		})
	}
}
