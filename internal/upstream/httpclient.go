package upstream

import (
	"net"
	"net/http"
	"time"
)

// NewHTTPClient returns the HTTP client of an outside API's client: every phase of a
// connection is bounded, because the per-call context alone would let a slow dial or
// handshake eat the whole budget silently, and redirects are refused (RefuseRedirect): one
// would turn a POST into a GET, or carry a credential where the configuration never said.
// responseTimeout bounds the wait for the response headers.
func NewHTTPClient(responseTimeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: responseTimeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   20,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: RefuseRedirect,
	}
}
