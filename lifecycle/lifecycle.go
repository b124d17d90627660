// Package lifecycle implements the App lifecycle that Zenvia Sales drives through its hooks:
// install, settings form, settings read and update, enable/disable, API key refresh and
// uninstall, with the rules that keep an instance consistent when hooks race or arrive out of
// order. It knows nothing of HTTP or of MongoDB: the app package serves it, the store package
// persists it.
package lifecycle

import (
	"context"
	"fmt"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
)

// Subscriptions keeps an instance's Sales notification subscription in line with its state
// after a hook changed it. Failures are the caller's to log: a background pass repairs them.
type Subscriptions interface {
	// Sync subscribes an enabled instance with complete settings and unsubscribes any other;
	// force subscribes again even if a subscription is recorded.
	Sync(ctx context.Context, inst zen7.Instance, force bool) error
	// Cancel removes the instance's subscription.
	Cancel(ctx context.Context, inst zen7.Instance) error
}

// Backfills starts the backfill the backfillDays setting asks for (forwarding.Backfiller).
type Backfills interface {
	// Start starts a backfill of the instance's prospects of the last days days, unless one is
	// running or, when changed is false, one already ran for these days.
	Start(ctx context.Context, instanceID string, days int, changed bool) error
}

// ChatTonicChecker checks a Chat-Tonic codename and token before they are saved.
type ChatTonicChecker interface {
	// CheckChatTonic asks Chat-Tonic for one funnel of the account. It returns an error
	// matching zen7.ErrUnauthorized when the token is refused, zen7.ErrNotFound when the
	// codename is unknown, and zen7.ErrUpstream when Chat-Tonic cannot be reached.
	CheckChatTonic(ctx context.Context, codename, token string) error
}

// The hook names used in the audit trail.
const (
	HookInstall        = "install"
	HookSettingsForm   = "settings.form"
	HookSettingsRead   = "settings.read"
	HookSettingsUpdate = "settings.update"
	HookEnabled        = "enabled"
	HookAPIKeyRefresh  = "api-key.refresh"
	HookUninstall      = "uninstall"
)

// Store persists instances. Every change is conditional on the instance still being bound to
// the API key the caller presented and not uninstalled, so a change can never land on an
// instance whose key was refreshed away or which was uninstalled in the meantime.
type Store interface {
	// CreateInstance stores inst and binds apiKey to it. It returns ErrConflict if apiKey is
	// already bound to a live instance.
	CreateInstance(ctx context.Context, inst zen7.Instance) error
	// InstanceByAPIKey returns the live instance bound to apiKey, or ErrNotFound.
	InstanceByAPIKey(ctx context.Context, apiKey string) (zen7.Instance, error)
	// SetState moves the instance bound to apiKey to state (enabled or disabled) and returns it.
	// It returns ErrNotFound if apiKey no longer names a live instance.
	SetState(ctx context.Context, id, apiKey string, state zen7.State, at time.Time) (zen7.Instance, error)
	// ReplaceSettings stores s if the instance is still at version; it returns ErrConflict if
	// the instance changed since, ErrNotFound if apiKey no longer names it.
	ReplaceSettings(ctx context.Context, id, apiKey string, version int64, s zen7.Settings, at time.Time) (zen7.Instance, error)
	// RotateAPIKey binds newKey instead of oldKey, oldKey stopping at once, and returns the
	// instance as it is then. It returns
	// ErrConflict if newKey belongs to another live instance, ErrNotFound if oldKey no longer
	// names the instance.
	RotateAPIKey(ctx context.Context, id, oldKey, newKey string, at time.Time) (zen7.Instance, error)
	// Uninstall marks the instance uninstalled, wipes its secrets, unbinds its key and drops
	// its groups. It returns ErrNotFound if apiKey no longer names a live instance.
	Uninstall(ctx context.Context, id, apiKey string, at time.Time) (zen7.Instance, error)
	// SetAccount records where the instance lives in Sales.
	SetAccount(ctx context.Context, id string, a zen7.Account) error
	// InstancesWithoutAccount returns up to limit live instances whose account lookup is
	// pending, least recently tried (Account.LastTriedAt) first.
	InstancesWithoutAccount(ctx context.Context, limit int) ([]zen7.Instance, error)
	// AccountsToRefresh returns up to limit live instances whose account was resolved before
	// t and whose lookup has not failed since, least recently resolved first.
	AccountsToRefresh(ctx context.Context, t time.Time, limit int) ([]zen7.Instance, error)
	// SetGroupTree records that the instance serves the pages of the tree's groups, but for
	// those a deeper installation's tree holds, and forgets the groups it served that the tree
	// no longer has. It returns ErrNotFound if the instance was uninstalled meanwhile.
	SetGroupTree(ctx context.Context, inst zen7.Instance, t zen7.GroupTree) error
	// InstanceForGroup returns the live instance serving the group's pages, or ErrNotFound.
	InstanceForGroup(ctx context.Context, groupID string) (zen7.Instance, error)
	// RecordAudit appends an entry to the instance's audit trail.
	RecordAudit(ctx context.Context, e zen7.AuditEntry) error
}

// AccountLookup asks Zenvia Sales where the instance with apiKey lives, always with that
// instance's own key: its account (GET /integration) and the group tree below its group
// (GET /group/{groupID}).
type AccountLookup interface {
	LookupAccount(ctx context.Context, apiKey string) (zen7.Account, error)
	LookupGroups(ctx context.Context, apiKey, groupID string) (zen7.GroupTree, error)
}

// CredentialChecker checks what an admin enters against 7Targets: the OAuth2 client
// credentials at its token endpoint, and the assistants those credentials see. Both return
// ErrInvalid when 7Targets rejects the credentials and ErrUpstream when it cannot say.
type CredentialChecker interface {
	CheckCredentials(ctx context.Context, clientID, clientSecret string) error
	// Assistants lists every assistant 7Targets has for the settings' credentials and user
	// identifier; instanceID keys what may be cached.
	Assistants(ctx context.Context, instanceID string, s zen7.Settings) ([]Assistant, error)
}

// Assistant is a 7Targets assistant, as the settings name and the form offers it.
type Assistant struct {
	Email string
	Name  string
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("lifecycle.%s: %w", op, err)
}
