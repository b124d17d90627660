package upstream

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ParseBaseURL parses the base URL of an outside API: absolute http or https, without user
// info, query or fragment (credentials travel in headers or the query the client builds, so
// anything there would be ambiguous), trailing slashes dropped so paths can be appended.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q must be an absolute http or https URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("base URL must not have user info, a query or a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}
