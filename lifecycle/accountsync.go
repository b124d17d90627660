package lifecycle

import (
	"context"
	"log/slog"
	"time"
)

// AccountSync retries, in the background, the account lookups that install could not make
// because Zenvia Sales was unreachable then, and reads resolved accounts and their group trees
// again once they are ten minutes old (Service.ResolveAccounts).
type AccountSync struct {
	Service *Service
	Logger  *slog.Logger
	// Interval between passes; zero means one minute.
	Interval time.Duration
}

// Run makes a pass at once and then every Interval until ctx ends.
func (a *AccountSync) Run(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.Service.lookupsLimited: // a hook's lookup hit the rate limit: retry at its reset
			if at, ok := a.Service.lookupsResume(); ok {
				t.Reset(min(interval, time.Until(at)+rateLimitMargin))
			}
			continue
		case <-t.C:
		}
		if n, err := a.Service.ResolveAccounts(ctx); err != nil && ctx.Err() == nil {
			a.Logger.WarnContext(ctx, "account sync pass failed", "error", err)
		} else if n > 0 {
			a.Logger.InfoContext(ctx, "accounts resolved", "count", n)
		}
		next := interval
		// Sales said when its rate limit resets: try again then, not a whole interval later.
		if at, ok := a.Service.lookupsResume(); ok {
			next = min(next, time.Until(at)+rateLimitMargin)
		}
		t.Reset(next)
	}
}

// rateLimitMargin is how long after Sales' rate limit resets a pass tries again.
const rateLimitMargin = 500 * time.Millisecond
