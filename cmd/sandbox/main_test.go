package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/internal/testport"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSandboxShowsLeadsFlowing runs the demo as a newcomer would and checks that leads reach
// the simulated 7Targets and that the printed page URLs open working pages.
func TestSandboxShowsLeadsFlowing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	port := testport.Free(t)

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- runOn(ctx, port, &out) }()

	forwarded := regexp.MustCompile(`forwarded (\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := forwarded.FindAllStringSubmatch(out.String(), -1)
		if len(m) > 0 {
			if n, _ := strconv.Atoi(m[len(m)-1][1]); n >= 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leads forwarded within a minute; output:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	urls := regexp.MustCompile(`http://localhost:\d+/extensions/\S+`).FindAllString(out.String(), -1)
	if len(urls) != 6 {
		t.Fatalf("printed %d page URLs, want 6 (report and button in three languages):\n%s", len(urls), out.String())
	}
	for _, u := range urls {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", u, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}

	// The routing rule at work: the report's By assistant shows prospects it sent to Lyra
	// (the backfill and the stream both carry facebook prospects).
	report := urls[0]
	deadline = time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(report)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `data-route="rule"`) && strings.Contains(string(b), "lyra@7targets.test") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the report shows no prospect routed by the rule within a minute:\n%s", b)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The Chat-Tonic bot at work: its completed records were imported into Sales.
	imported := regexp.MustCompile(`Chat-Tonic records imported (\d+)`)
	deadline = time.Now().Add(90 * time.Second)
	for {
		m := imported.FindAllStringSubmatch(out.String(), -1)
		if len(m) > 0 {
			if n, _ := strconv.Atoi(m[len(m)-1][1]); n >= 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Chat-Tonic record imported within 90 s; output:\n%s", out.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sandbox stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the sandbox did not stop after Ctrl-C")
	}
}

// TestSandboxListensOnLoopbackOnly: the demo, whose App credentials are in its source and whose
// printed URLs open every page, is reachable from this machine only.
func TestSandboxListensOnLoopbackOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	ip := nonLoopbackIP(t)
	portNumber := testport.Free(t)
	port := strconv.Itoa(portNumber)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- runOn(ctx, portNumber, &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sandbox stopped with %v", err)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "The App runs at") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not start within a minute; output:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second); err != nil {
		t.Fatalf("not reachable on loopback: %v", err)
	} else {
		c.Close()
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 5*time.Second); err == nil {
		c.Close()
		t.Errorf("the sandbox is reachable on %s:%s; want loopback only", ip, port)
	}
}

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
