package seventargets_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

const (
	testClientID = "client-1"
	// testSecret has characters that form encoding changes, so the tests
	// also cover how the secret is escaped in the Basic header.
	testSecret = "s3cr3t+Value/with=odd chars"
	testUser   = "user-1"
)

var testCreds = seventargets.Credentials{
	ClientID:       testClientID,
	ClientSecret:   testSecret,
	UserIdentifier: testUser,
}

// newFake starts a seeded fake 7Targets that knows testCreds.
func newFake(tb testing.TB) *seventargetsfake.Server {
	tb.Helper()
	f := seventargetsfake.New()
	tb.Cleanup(f.Close)
	f.Seed()
	f.AddClient(testClientID, testSecret, testUser)
	return f
}

// newClient returns a Client pointed at f.
func newClient(tb testing.TB, f *seventargetsfake.Server, opts ...seventargets.Option) *seventargets.Client {
	tb.Helper()
	c, err := seventargets.New(f.APIURL(), f.TokenURL(), opts...)
	if err != nil {
		tb.Fatalf("seventargets.New: %v", err)
	}
	return c
}

// testLead returns a valid lead whose email is unique per n.
func testLead(n int) seventargets.Lead {
	return seventargets.Lead{
		Name:           "John",
		LastName:       "Doe",
		Email:          fmt.Sprintf("john.doe+%d@example.com", n),
		AssistantEmail: seventargetsfake.SeedAssistantEmail,
	}
}

// mustCreate creates lead and fails the test on error.
func mustCreate(tb testing.TB, c *seventargets.Client, key string, lead seventargets.Lead) seventargets.LeadResult {
	tb.Helper()
	res, err := c.CreateLead(tb.Context(), key, testCreds, lead)
	if err != nil {
		tb.Fatalf("CreateLead: %v", err)
	}
	return res
}

// checkAPIError asserts that err is an *APIError matching want with the
// given retryability, and that it carries no secret.
func checkAPIError(tb testing.TB, err, want error, retryable bool) *seventargets.APIError {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %v", want)
	}
	var apiErr *seventargets.APIError
	if !errors.As(err, &apiErr) {
		tb.Fatalf("err = %T %v, want *seventargets.APIError", err, err)
	}
	if !errors.Is(err, want) {
		tb.Errorf("errors.Is(%v, %v) = false, want true", err, want)
	}
	if got := apiErr.Retryable(); got != retryable {
		tb.Errorf("Retryable() = %v, want %v (err %v)", got, retryable, err)
	}
	if got := seventargets.IsRetryable(err); got != retryable {
		tb.Errorf("IsRetryable() = %v, want %v", got, retryable)
	}
	checkNoSecret(tb, err)
	return apiErr
}

func checkNoSecret(tb testing.TB, err error) {
	tb.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		if strings.Contains(s, testSecret) || strings.Contains(s, "s3cr3t") {
			tb.Errorf("error text contains the secret: %s", s)
		}
	}
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	calls  []call
	tokens []seventargets.TokenOutcome
}

type call struct {
	Op     string
	Status int
	Err    bool
}

func (r *recorder) ObserveCall(op string, status int, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call{Op: op, Status: status, Err: err != nil})
}

func (r *recorder) ObserveTokenRequest(outcome seventargets.TokenOutcome, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, outcome)
}
