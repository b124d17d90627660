package lifecycle

import (
	"context"
	"log/slog"
	"time"
)

// AccountSync retries, in the background, the account lookups that install could not make
// because Zenvia Sales was unreachable then.
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
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := a.Service.ResolveAccounts(ctx); err != nil && ctx.Err() == nil {
			a.Logger.WarnContext(ctx, "account sync pass failed", "error", err)
		} else if n > 0 {
			a.Logger.InfoContext(ctx, "accounts resolved", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
