package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// salesAccounts answers lifecycle's account lookups with the Sales API.
type salesAccounts struct{ c *sales.Client }

func (a salesAccounts) LookupAccount(ctx context.Context, apiKey string) (lifecycle.Account, error) {
	in, err := a.c.Integration(ctx, apiKey)
	if err != nil {
		return lifecycle.Account{}, err
	}
	return lifecycle.Account{
		IntegrationID: in.ID,
		GroupID:       in.GroupID,
		AccountID:     in.AccountID,
		Language:      in.Language,
	}, nil
}

// credentialChecker answers lifecycle's credential checks with the 7Targets token endpoint,
// translating the client's errors to lifecycle's.
type credentialChecker struct{ c *seventargets.Client }

func (c credentialChecker) CheckCredentials(ctx context.Context, clientID, clientSecret string) error {
	err := c.c.CheckCredentials(ctx, clientID, clientSecret)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, seventargets.ErrInvalidCredentials):
		return fmt.Errorf("%w: %w", lifecycle.ErrInvalid, err)
	default:
		return fmt.Errorf("%w: %w", lifecycle.ErrUpstream, err)
	}
}
