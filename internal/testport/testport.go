// Package testport hands tests loopback ports for servers they start in another process or
// container, which must be told a port before they bind it.
//
// A port from the kernel's ephemeral range (net.Listen on port 0) is a poor choice for that:
// between the test closing it and the server binding it, the kernel may give it to any
// outgoing connection or port-0 listener of the busy machine, and the server then fails to
// start. Ports below that range are never handed out that way.
package testport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// low is the first port handed out; ports below it are left to fixed services.
const low = 20000

var (
	mu    sync.Mutex
	given = map[int]bool{} // by this test binary: never twice
)

// Free returns a loopback port below the ephemeral range that nothing listens on now and that
// this test binary has not handed out before.
func Free(tb testing.TB) int {
	tb.Helper()
	high := ephemeralLow()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		port := low + rand.IntN(high-low)
		if given[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // someone else's
		}
		ln.Close()
		given[port] = true
		return port
	}
	tb.Fatalf("testport: no free port in [%d, %d)", low, high)
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's default where it
// cannot be read).
func ephemeralLow() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return fallback
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= low+1000 {
		return fallback
	}
	return n
}
