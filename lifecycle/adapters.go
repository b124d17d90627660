package lifecycle

import (
	"context"
	"errors"
	"fmt"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// SalesAccounts answers account lookups with the Zenvia Sales API (GET /integration and
// GET /group/{id}).
func SalesAccounts(c *sales.Client) AccountLookup { return salesAccounts{c} }

type salesAccounts struct{ c *sales.Client }

func (a salesAccounts) LookupAccount(ctx context.Context, apiKey string) (zen7.Account, error) {
	in, err := a.c.Integration(ctx, apiKey)
	if err != nil {
		return zen7.Account{}, err
	}
	return zen7.Account{IntegrationID: in.ID, GroupID: in.GroupID, AccountID: in.AccountID, Language: in.Language}, nil
}

// LookupGroups reads the group and what Sales lists below it. Sales lists every descendant,
// not only the children, so one read gives the whole tree.
func (a salesAccounts) LookupGroups(ctx context.Context, apiKey, groupID string) (zen7.GroupTree, error) {
	g, err := a.c.Group(ctx, apiKey, groupID)
	if err != nil {
		return zen7.GroupTree{}, err
	}
	depth := len(g.Ancestors)
	if depth == 0 && g.Parent != "" {
		depth = 1
	}
	parent := g.Parent
	if parent == "" && depth > 0 {
		parent = g.Ancestors[depth-1] // root first
	}
	t := zen7.GroupTree{Root: groupID, Parent: parent, Depth: depth, Groups: []string{groupID}}
	seen := map[string]bool{groupID: true}
	for _, d := range g.Descendants {
		if d != "" && !seen[d] {
			seen[d] = true
			t.Groups = append(t.Groups, d)
		}
	}
	return t, nil
}

// SevenTargetsChecker checks credentials with the 7Targets token endpoint, translating the
// client's errors to the ones CredentialChecker promises.
func SevenTargetsChecker(c *seventargets.Client) CredentialChecker { return checker{c} }

type checker struct{ c *seventargets.Client }

func (c checker) CheckCredentials(ctx context.Context, clientID, clientSecret string) error {
	return checkerError(c.c.CheckCredentials(ctx, clientID, clientSecret))
}

func (c checker) Assistants(ctx context.Context, instanceID string, s zen7.Settings) ([]Assistant, error) {
	list, err := c.c.AllAssistants(ctx, instanceID, seventargets.Credentials{
		ClientID: s.ClientID, ClientSecret: s.ClientSecret, UserIdentifier: s.UserIdentifier,
	})
	if err != nil {
		return nil, checkerError(err)
	}
	out := make([]Assistant, 0, len(list))
	for _, a := range list {
		if e, ok := zen7.BareEmail(a.EmailID); ok {
			out = append(out, Assistant{Email: e, Name: a.Name})
		}
	}
	return out, nil
}

// checkerError translates the client's errors to the ones CredentialChecker promises. A
// call refused for another reason than the credentials (a user identifier of another
// organisation gets 403) is the admin's to fix too: a validation error on that setting.
func checkerError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, seventargets.ErrInvalidCredentials):
		return fmt.Errorf("%w: %w", zen7.ErrInvalid, err)
	case errors.Is(err, seventargets.ErrRejected):
		return zen7.InvalidField("userIdentifier", "7Targets refused to list the assistants for this user identifier with these credentials")
	default:
		return fmt.Errorf("%w: %w", zen7.ErrUpstream, err)
	}
}

// ChatTonicAccounts checks Chat-Tonic codenames and tokens by reading one funnel
// (GET …/lead/funnels?skip=0&limit=1), translating the client's errors to the ones
// ChatTonicChecker promises.
func ChatTonicAccounts(c *chattonic.Client) ChatTonicChecker { return chatTonicChecker{c} }

type chatTonicChecker struct{ c *chattonic.Client }

func (c chatTonicChecker) CheckChatTonic(ctx context.Context, codename, token string) error {
	_, err := c.c.Funnels(ctx, codename, token, 0, 1)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, chattonic.ErrUnauthorized):
		return fmt.Errorf("lifecycle.CheckChatTonic: %w: %w", zen7.ErrUnauthorized, err)
	case errors.Is(err, chattonic.ErrUnknownCodename):
		return fmt.Errorf("lifecycle.CheckChatTonic: %w: %w", zen7.ErrNotFound, err)
	default:
		// Rate limited, down or refusing the request itself: nothing says the settings are
		// wrong, so the admin is asked to try again.
		return fmt.Errorf("lifecycle.CheckChatTonic: %w: %w", zen7.ErrUpstream, err)
	}
}
