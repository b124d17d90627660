package lifecycle

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/secret"
)

// Config holds what the Service needs to know about the App itself.
type Config struct {
	// AppID and AppSecret are the App's client credentials issued by Zenvia Sales.
	AppID, AppSecret string
	// AccountLookupTimeout bounds each Sales call of the account lookup made during install
	// (GET /integration, then GET /group/{id}), so a slow Sales cannot make install itself
	// time out. Zero means 3 seconds.
	AccountLookupTimeout time.Duration
}

// Service runs the lifecycle hooks. It is safe for concurrent use.
type Service struct {
	store    Store
	accounts AccountLookup
	checker  CredentialChecker
	subs     Subscriptions
	backfill Backfills
	chat     ChatTonicChecker
	logger   *slog.Logger
	now      func() time.Time

	appIDHash, appSecretHash [sha256.Size]byte
	lookupTimeout            time.Duration

	mu sync.Mutex
	// lookupsResumeAt is when Sales' rate limit, hit by an account lookup, resets (zero: none
	// hit): AccountSync tries again then rather than a whole interval later.
	lookupsResumeAt time.Time
	lookupsLimited  chan struct{} // told when lookupsResumeAt is set
}

// NewService returns a Service persisting to store, asking Sales through accounts and checking
// 7Targets credentials with checker.
func NewService(cfg Config, store Store, accounts AccountLookup, checker CredentialChecker, logger *slog.Logger) *Service {
	timeout := cfg.AccountLookupTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	return &Service{
		store:         store,
		accounts:      accounts,
		checker:       checker,
		logger:        logger,
		now:           func() time.Time { return time.Now().UTC() },
		appIDHash:     sha256.Sum256([]byte(cfg.AppID)),
		appSecretHash: sha256.Sum256([]byte(cfg.AppSecret)),
		lookupTimeout: timeout,

		lookupsLimited: make(chan struct{}, 1),
	}
}

// SetSubscriptions makes hooks that enable, disable, configure, re-key or uninstall an instance
// keep its Sales notification subscription in line. Call it before serving.
func (s *Service) SetSubscriptions(subs Subscriptions) { s.subs = subs }

// SetBackfills makes a settings update that saves backfillDays above 0 start a backfill. Call
// it before serving.
func (s *Service) SetBackfills(b Backfills) { s.backfill = b }

// SetChatTonic makes a settings update that changes the Chat-Tonic codename or token check
// them with Chat-Tonic first. Call it before serving; without it they are saved unchecked.
func (s *Service) SetChatTonic(c ChatTonicChecker) { s.chat = c }

// startBackfill starts the backfill a settings update asked for. The update has succeeded
// whatever happens here: a failure is logged, and saving the setting again retries.
func (s *Service) startBackfill(ctx context.Context, inst zen7.Instance, changed bool) {
	if s.backfill == nil {
		return
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.backfill.Start(bctx, inst.ID, inst.Settings.BackfillDays, changed); err != nil {
		s.logger.WarnContext(ctx, "starting a backfill failed", "instance", inst.ID, "error", err)
	}
}

// syncSubscription brings the subscription in line after a hook; the hook has succeeded
// whatever happens here, and the background repair retries what fails.
func (s *Service) syncSubscription(ctx context.Context, inst zen7.Instance, force bool) {
	if s.subs == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.subs.Sync(sctx, inst, force); err != nil {
		s.logger.WarnContext(ctx, "syncing the Sales subscription failed; will retry", "instance", inst.ID, "error", err)
	}
}

// CheckApp verifies the App client credentials a hook call presents. It returns
// ErrUnauthorized unless both match. Comparing fixed-size hashes in constant time leaks
// neither the values nor their lengths.
func (s *Service) CheckApp(appID, appSecret string) error {
	id := sha256.Sum256([]byte(appID))
	sec := sha256.Sum256([]byte(appSecret))
	okID := subtle.ConstantTimeCompare(id[:], s.appIDHash[:])
	okSecret := subtle.ConstantTimeCompare(sec[:], s.appSecretHash[:])
	if okID&okSecret != 1 || appID == "" || appSecret == "" {
		return fmt.Errorf("%w: wrong or missing App credentials", zen7.ErrUnauthorized)
	}
	return nil
}

// InstallRequest is the install hook's integration part.
type InstallRequest struct {
	APIKey  string
	Enabled *bool
}

// Install creates the instance for req.APIKey. It reports created=false when the key is
// already installed (Sales may repeat the call), leaving that instance untouched. A key whose
// instance was uninstalled gets a fresh instance: nothing of the old one is reused.
func (s *Service) Install(ctx context.Context, req InstallRequest) (created bool, err error) {
	if msg := apiKeyProblem(req.APIKey); msg != "" {
		return false, zen7.InvalidField("integration.apiKey", msg)
	}
	existing, err := s.store.InstanceByAPIKey(ctx, req.APIKey)
	switch {
	case err == nil:
		s.audit(ctx, existing.ID, HookInstall, nil, "already installed")
		return false, nil
	case !errors.Is(err, zen7.ErrNotFound):
		return false, wrap("Install", err)
	}

	now := s.now()
	state := zen7.StateDisabled
	if req.Enabled != nil && *req.Enabled {
		state = zen7.StateEnabled
	}
	inst := zen7.Instance{
		ID:          newID(),
		State:       state,
		APIKey:      req.APIKey,
		Settings:    zen7.DefaultSettings(),
		InstalledAt: now,
		UpdatedAt:   now,
	}
	if err := s.store.CreateInstance(ctx, inst); err != nil {
		if errors.Is(err, zen7.ErrConflict) {
			// A concurrent install of the same key won the race: this call is a repeat.
			if winner, lerr := s.store.InstanceByAPIKey(ctx, req.APIKey); lerr == nil {
				s.audit(ctx, winner.ID, HookInstall, nil, "already installed")
				return false, nil
			}
		}
		return false, wrap("Install", err)
	}
	s.logger.InfoContext(ctx, "instance installed", "instance", inst.ID, "state", inst.State)
	s.resolveAccount(ctx, inst)
	s.audit(ctx, inst.ID, HookInstall, nil, "state "+string(state))
	return true, nil
}

// Form returns the settings form for the instance named by apiKey.
func (s *Service) Form(ctx context.Context, apiKey string) (f Form, err error) {
	inst, err := s.instance(ctx, apiKey)
	if err != nil {
		return Form{}, err
	}
	s.audit(ctx, inst.ID, HookSettingsForm, nil, "")
	return SettingsFormWith(s.assistantChoices(ctx, inst)), nil
}

// formListingTimeout bounds the listing of assistants for the form: the form shows at once,
// with a text input, rather than wait on a slow 7Targets.
const formListingTimeout = 3 * time.Second

// assistantChoices lists the assistants the instance's stored credentials see, for its form;
// none when there are no credentials or 7Targets cannot say.
func (s *Service) assistantChoices(ctx context.Context, inst zen7.Instance) []Assistant {
	st := inst.Settings
	if st.ClientID == "" || st.ClientSecret == "" || st.UserIdentifier == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, formListingTimeout)
	defer cancel()
	list, err := s.checker.Assistants(ctx, inst.ID, st)
	if err != nil {
		s.logger.WarnContext(ctx, "listing the assistants for the settings form failed", "instance", inst.ID, "error", err)
		return nil
	}
	return list
}

// Settings returns the instance's settings.
func (s *Service) Settings(ctx context.Context, apiKey string) (zen7.Settings, error) {
	inst, err := s.instance(ctx, apiKey)
	if err != nil {
		return zen7.Settings{}, err
	}
	s.audit(ctx, inst.ID, HookSettingsRead, nil, "")
	return inst.Settings, nil
}

// maxSettingsAttempts bounds the compare-and-swap retries of a settings update racing other
// hooks on the same instance.
const maxSettingsAttempts = 8

// UpdateSettings merges p into the instance's settings and returns the result. Changed 7Targets
// credentials are checked with 7Targets before anything is saved.
func (s *Service) UpdateSettings(ctx context.Context, apiKey string, p SettingsPatch) (zen7.Settings, error) {
	inst, err := s.instance(ctx, apiKey)
	if err != nil {
		return zen7.Settings{}, err
	}
	detail := "keys " + strings.Join(p.Keys(), ",")
	settings, err := s.updateSettings(ctx, inst, apiKey, p)
	s.audit(ctx, inst.ID, HookSettingsUpdate, err, detail)
	return settings, err
}

func (s *Service) updateSettings(ctx context.Context, inst zen7.Instance, apiKey string, p SettingsPatch) (zen7.Settings, error) {
	var checkedID, checkedSecret string
	var checkedAssistants *zen7.Settings
	var checkedCodename, checkedToken string
	for range maxSettingsAttempts {
		next, err := p.Apply(inst.Settings)
		if err != nil {
			return zen7.Settings{}, err
		}
		credsChanged := next.ClientID != inst.Settings.ClientID || next.ClientSecret != inst.Settings.ClientSecret
		alreadyChecked := next.ClientID == checkedID && next.ClientSecret == checkedSecret
		if credsChanged && next.ClientID != "" && next.ClientSecret != "" && !alreadyChecked {
			if err := s.checkCredentials(ctx, next.ClientID, next.ClientSecret); err != nil {
				return zen7.Settings{}, err
			}
			checkedID, checkedSecret = next.ClientID, next.ClientSecret
		}
		chatChanged := next.ChatTonicCodename != inst.Settings.ChatTonicCodename || next.ChatTonicToken != inst.Settings.ChatTonicToken
		chatChecked := next.ChatTonicCodename == checkedCodename && next.ChatTonicToken == checkedToken
		if chatChanged && next.ChatTonicConfigured() && !chatChecked {
			if err := s.checkChatTonic(ctx, next.ChatTonicCodename, next.ChatTonicToken); err != nil {
				return zen7.Settings{}, err
			}
			checkedCodename, checkedToken = next.ChatTonicCodename, next.ChatTonicToken
		}
		if assistantsChanged(inst.Settings, next) && (checkedAssistants == nil || assistantsChanged(*checkedAssistants, next)) {
			if err := s.checkAssistants(ctx, inst.ID, next); err != nil {
				return zen7.Settings{}, err
			}
			checkedAssistants = &next
		}
		updated, err := s.store.ReplaceSettings(ctx, inst.ID, apiKey, inst.Version, next, s.now())
		switch {
		case err == nil:
			s.syncSubscription(ctx, updated, false)
			if p.Has(backfillDaysKey) && updated.Settings.BackfillDays > 0 {
				s.startBackfill(ctx, updated, updated.Settings.BackfillDays != inst.Settings.BackfillDays)
			}
			return updated.Settings, nil
		case errors.Is(err, zen7.ErrNotFound):
			return zen7.Settings{}, fmt.Errorf("%w: the API key no longer names an installed instance", zen7.ErrUnauthorized)
		case !errors.Is(err, zen7.ErrConflict):
			return zen7.Settings{}, wrap("UpdateSettings", err)
		}
		// Another hook changed the instance meanwhile: merge again onto what it left.
		if inst, err = s.instance(ctx, apiKey); err != nil {
			return zen7.Settings{}, err
		}
	}
	return zen7.Settings{}, fmt.Errorf("%w: the instance is changing too fast, try again", zen7.ErrConflict)
}

func (s *Service) checkCredentials(ctx context.Context, clientID, clientSecret string) error {
	err := s.checker.CheckCredentials(ctx, clientID, clientSecret)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zen7.ErrInvalid):
		return &zen7.ValidationError{Fields: map[string]string{
			"clientSecret": "7Targets rejected this client id and secret",
		}}
	default:
		return fmt.Errorf("%w: 7Targets could not be reached to check the credentials; nothing was saved, try again: %w", zen7.ErrUpstream, err)
	}
}

// chatTonicCheckTimeout bounds the check of a Chat-Tonic codename and token: the settings
// page waits on it.
const chatTonicCheckTimeout = 10 * time.Second

// checkChatTonic asks Chat-Tonic whether codename and token open the account, and turns its
// refusal into a validation error on the setting at fault.
func (s *Service) checkChatTonic(ctx context.Context, codename, token string) error {
	if s.chat == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, chatTonicCheckTimeout)
	defer cancel()
	err := s.chat.CheckChatTonic(ctx, codename, token)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, zen7.ErrUnauthorized):
		return &zen7.ValidationError{Fields: map[string]string{
			"chatTonicToken": "Chat-Tonic refused this token for this codename",
		}}
	case errors.Is(err, zen7.ErrNotFound):
		return &zen7.ValidationError{Fields: map[string]string{
			"chatTonicCodename": "Chat-Tonic knows no bot account by this codename",
		}}
	default:
		return fmt.Errorf("%w: Chat-Tonic could not be reached to check the codename and token; nothing was saved, try again: %w", zen7.ErrUpstream, err)
	}
}

// assistantsChanged reports whether next names other assistants than before, or reads them
// with other credentials.
func assistantsChanged(before, next zen7.Settings) bool {
	return next.AssistantEmail != before.AssistantEmail || next.RoutingRules != before.RoutingRules ||
		next.ClientID != before.ClientID || next.ClientSecret != before.ClientSecret || next.UserIdentifier != before.UserIdentifier
}

// maxNamedAssistants bounds how many assistants a message lists.
const maxNamedAssistants = 10

// checkAssistants looks up every assistant next names (assistantEmail and the routing rules)
// among those 7Targets lists for its credentials. An unknown one is a validation error on
// the key that names it, listing the assistants found. Without complete credentials there
// is nothing to ask with: nothing forwards until they are, and they are checked then.
func (s *Service) checkAssistants(ctx context.Context, instanceID string, next zen7.Settings) error {
	if next.ClientID == "" || next.ClientSecret == "" || next.UserIdentifier == "" {
		return nil
	}
	rules, err := zen7.ParseRoutingRules(next.RoutingRules)
	if err != nil {
		return zen7.InvalidField("routingRules", err.Error()) // validated before; kept safe
	}
	if next.AssistantEmail == "" && len(rules) == 0 {
		return nil
	}
	found, err := s.checker.Assistants(ctx, instanceID, next)
	switch {
	case errors.Is(err, zen7.ErrInvalid):
		var verr *zen7.ValidationError
		if errors.As(err, &verr) {
			return err
		}
		return zen7.InvalidField("clientSecret", "7Targets rejected this client id and secret")
	case err != nil:
		return fmt.Errorf("%w: 7Targets could not be reached to check the assistants; nothing was saved, try again: %w", zen7.ErrUpstream, err)
	}
	known := make(map[string]bool, len(found))
	for _, a := range found {
		known[strings.ToLower(a.Email)] = true
	}
	problems := map[string]string{}
	if e := next.AssistantEmail; e != "" && !known[strings.ToLower(e)] {
		problems["assistantEmail"] = unknownAssistant(e, found)
	}
	for _, r := range rules {
		if !known[strings.ToLower(r.AssistantEmail)] {
			problems["routingRules"] = "line " + strconv.Itoa(r.Line) + ": " + unknownAssistant(r.AssistantEmail, found)
			break
		}
	}
	if len(problems) > 0 {
		return &zen7.ValidationError{Fields: problems}
	}
	return nil
}

// unknownAssistant says that 7Targets lists no assistant email, and which it lists.
func unknownAssistant(email string, found []Assistant) string {
	if len(found) == 0 {
		return "7Targets lists no assistants for these credentials, so " + email + " is unknown"
	}
	names := make([]string, 0, maxNamedAssistants)
	for _, a := range found[:min(len(found), maxNamedAssistants)] {
		names = append(names, a.Email)
	}
	more := ""
	if len(found) > maxNamedAssistants {
		more = fmt.Sprintf(" and %d more", len(found)-maxNamedAssistants)
	}
	return "7Targets lists no assistant " + email + " for these credentials; it lists " + strings.Join(names, ", ") + more
}

// SetEnabled enables or disables the instance and returns the state it ended in.
func (s *Service) SetEnabled(ctx context.Context, apiKey string, enabled bool) (bool, error) {
	inst, err := s.instance(ctx, apiKey)
	if err != nil {
		return false, err
	}
	state := zen7.StateDisabled
	if enabled {
		state = zen7.StateEnabled
	}
	updated, err := s.store.SetState(ctx, inst.ID, apiKey, state, s.now())
	if errors.Is(err, zen7.ErrNotFound) {
		err = fmt.Errorf("%w: the API key no longer names an installed instance", zen7.ErrUnauthorized)
	}
	s.audit(ctx, inst.ID, HookEnabled, err, "state "+string(state))
	if err != nil {
		return false, wrap("SetEnabled", err)
	}
	s.syncSubscription(ctx, updated, false)
	return updated.State == zen7.StateEnabled, nil
}

// RefreshAPIKey replaces the instance's API key; the old key stops working at once.
func (s *Service) RefreshAPIKey(ctx context.Context, apiKey, newKey string) error {
	inst, err := s.instance(ctx, apiKey)
	if err != nil {
		return err
	}
	var rekeyed zen7.Instance
	if msg := apiKeyProblem(newKey); msg != "" {
		err = zen7.InvalidField("newApiKey", msg)
	} else if rekeyed, err = s.store.RotateAPIKey(ctx, inst.ID, apiKey, newKey, s.now()); errors.Is(err, zen7.ErrNotFound) {
		err = fmt.Errorf("%w: the API key no longer names an installed instance", zen7.ErrUnauthorized)
	}
	s.audit(ctx, inst.ID, HookAPIKeyRefresh, err, "")
	if err != nil {
		return wrap("RefreshAPIKey", err)
	}
	s.logger.InfoContext(ctx, "instance API key refreshed", "instance", inst.ID)
	s.syncSubscription(ctx, rekeyed, true) // the subscription belonged to the old key
	return nil
}

// Uninstall soft-deletes the instance: the record stays, marked uninstalled, its secrets wiped
// and its key unbound, so nothing is forwarded for it any more.
func (s *Service) Uninstall(ctx context.Context, apiKey string) error {
	inst, err := s.instance(ctx, apiKey)
	if err != nil {
		return err
	}
	// Unsubscribe while the API key is still known; uninstall wipes it.
	if s.subs != nil && inst.Subscription.ID != "" {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := s.subs.Cancel(sctx, inst); err != nil {
			s.logger.WarnContext(ctx, "removing the Sales subscription failed", "instance", inst.ID, "error", err)
		}
		cancel()
	}
	_, err = s.store.Uninstall(ctx, inst.ID, apiKey, s.now())
	if errors.Is(err, zen7.ErrNotFound) {
		err = fmt.Errorf("%w: the API key no longer names an installed instance", zen7.ErrUnauthorized)
	}
	s.audit(ctx, inst.ID, HookUninstall, err, "")
	if err != nil {
		return wrap("Uninstall", err)
	}
	s.logger.InfoContext(ctx, "instance uninstalled", "instance", inst.ID)
	if parent := inst.Account.ParentGroupID; parent != "" {
		s.handBackGroups(ctx, parent)
	}
	return nil
}

// handBackGroups has the installation serving parent, the group above an uninstalled
// instance's, read its tree again: the groups the uninstalled one held are in it, and its
// pages there work at once rather than after its next refresh. It reads with its own key.
func (s *Service) handBackGroups(ctx context.Context, parent string) {
	ctx = context.WithoutCancel(ctx)
	holder, err := s.store.InstanceForGroup(ctx, parent)
	if errors.Is(err, zen7.ErrNotFound) {
		return // no installation above
	}
	if err == nil {
		err = s.ReadGroups(ctx, holder)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "handing groups back to the installation above failed; its next refresh will", "error", err)
	}
}

// accountRefreshAge is how old a resolved account gets before ResolveAccounts reads it again:
// groups are added, moved and removed in Sales without a hook telling the App.
const accountRefreshAge = 10 * time.Minute

// maxLookupsPerPass bounds the lookups of each kind one ResolveAccounts pass makes.
const maxLookupsPerPass = 100

// ResolveAccounts retries the account lookup of instances whose install could not reach
// Zenvia Sales, and reads again the accounts and group trees resolved longer than
// accountRefreshAge ago, each with its own instance's key. It returns how many accounts were
// newly resolved. It also retires the instances an interrupted install left behind (see bound).
func (s *Service) ResolveAccounts(ctx context.Context) (int, error) {
	s.mu.Lock()
	s.lookupsResumeAt = time.Time{}
	s.mu.Unlock()
	pending, err := s.store.InstancesWithoutAccount(ctx, maxLookupsPerPass)
	if err != nil {
		return 0, wrap("ResolveAccounts", err)
	}
	resolved := 0
	for _, inst := range pending {
		if ctx.Err() != nil {
			return resolved, nil
		}
		if s.bound(ctx, inst) && s.resolveAccount(ctx, inst) {
			resolved++
		}
	}
	// A resolved instance got its account after bound() held, so its key names it.
	stale, err := s.store.AccountsToRefresh(ctx, s.now().Add(-accountRefreshAge), maxLookupsPerPass)
	if err != nil {
		return resolved, wrap("ResolveAccounts", err)
	}
	for _, inst := range stale {
		if ctx.Err() != nil {
			break
		}
		s.resolveAccount(ctx, inst)
	}
	return resolved, nil
}

// lookupsResume says when the last pass of ResolveAccounts was told by Sales to call again,
// if it was.
func (s *Service) lookupsResume() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupsResumeAt, !s.lookupsResumeAt.IsZero()
}

// unboundAge is how long an instance may go without its API key naming it before it counts
// as abandoned. Install stores the instance and then binds its key, milliseconds apart.
const unboundAge = 10 * time.Minute

// bound reports whether inst is the instance its API key names. One the key does not name was
// left by an install that died between storing the instance and binding its key (or that lost
// a race for the key and could not delete its instance): no hook can reach it, Sales' repeat
// of the install made another, and it must never get an account, which would let pages find
// it. Once abandoned it is retired like an uninstall, wiping the API key sealed in it; the
// retirement is guarded by the key hash it holds, so it cannot touch an instance a refresh
// has moved meanwhile.
func (s *Service) bound(ctx context.Context, inst zen7.Instance) bool {
	named, err := s.store.InstanceByAPIKey(ctx, inst.APIKey)
	switch {
	case err == nil && named.ID == inst.ID:
		return true
	case err != nil && !errors.Is(err, zen7.ErrNotFound):
		s.logger.WarnContext(ctx, "checking an instance's key binding failed; will retry", "instance", inst.ID, "error", err)
		return false
	case s.now().Sub(inst.InstalledAt) < unboundAge:
		return false // perhaps an install in progress
	}
	if _, err := s.store.Uninstall(ctx, inst.ID, inst.APIKey, s.now()); err != nil {
		if !errors.Is(err, zen7.ErrNotFound) {
			s.logger.WarnContext(ctx, "retiring an instance left by an interrupted install failed; will retry", "instance", inst.ID, "error", err)
		}
		return false
	}
	s.logger.InfoContext(ctx, "retired an instance left by an interrupted install", "instance", inst.ID)
	return false
}

// resolveAccount reads where inst lives in Sales, its account and its group tree, with inst's
// own key, and records both; it reports whether it could. A failure leaves what was recorded
// before (a refreshed account keeps serving its pages) and notes when it was tried.
func (s *Service) resolveAccount(ctx context.Context, inst zen7.Instance) bool {
	acct, err := s.lookupAccount(ctx, inst.APIKey)
	var tree zen7.GroupTree
	if err == nil {
		tree, err = s.lookupGroups(ctx, inst.APIKey, acct.GroupID)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "account lookup failed; will retry", "instance", inst.ID, "error", err)
		if d, ok := sales.RateLimitDelay(err); ok {
			s.mu.Lock()
			if at := s.now().Add(d); s.lookupsResumeAt.IsZero() || at.Before(s.lookupsResumeAt) {
				s.lookupsResumeAt = at
			}
			s.mu.Unlock()
			select {
			case s.lookupsLimited <- struct{}{}:
			default:
			}
		}
		tried := inst.Account
		tried.LastTriedAt = s.now()
		if err := s.store.SetAccount(ctx, inst.ID, tried); err != nil {
			s.logger.WarnContext(ctx, "recording the failed account lookup failed", "instance", inst.ID, "error", err)
		}
		return false
	}
	// The groups first: an account counts as resolved once its pages can be found.
	if err := s.store.SetGroupTree(ctx, inst, tree); err != nil {
		if !errors.Is(err, zen7.ErrNotFound) {
			s.logger.WarnContext(ctx, "recording the account's groups failed; will retry", "instance", inst.ID, "error", err)
		}
		return false
	}
	acct.ParentGroupID = tree.Parent
	acct.ResolvedAt = s.now()
	if err := s.store.SetAccount(ctx, inst.ID, acct); err != nil {
		s.logger.WarnContext(ctx, "recording the account failed; will retry", "instance", inst.ID, "error", err)
		return false
	}
	return true
}

func (s *Service) lookupAccount(ctx context.Context, apiKey string) (zen7.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	defer cancel()
	return s.accounts.LookupAccount(ctx, apiKey)
}

func (s *Service) lookupGroups(ctx context.Context, apiKey, groupID string) (zen7.GroupTree, error) {
	ctx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	defer cancel()
	return s.accounts.LookupGroups(ctx, apiKey, groupID)
}

// ReadGroups reads inst's group tree again, with inst's own key, and records it. The pages
// call it when a group they are asked for is unknown though, as Sales signed, its parent is
// inst's. It returns ErrNotFound if inst has no account yet or was uninstalled, and the
// lookup's errors.
func (s *Service) ReadGroups(ctx context.Context, inst zen7.Instance) error {
	if !inst.Account.Resolved() {
		return fmt.Errorf("lifecycle.ReadGroups: no account yet: %w", zen7.ErrNotFound)
	}
	tree, err := s.lookupGroups(ctx, inst.APIKey, inst.Account.GroupID)
	if err != nil {
		return wrap("ReadGroups", err)
	}
	return wrap("ReadGroups", s.store.SetGroupTree(ctx, inst, tree))
}

// instance authenticates apiKey and returns its live instance.
func (s *Service) instance(ctx context.Context, apiKey string) (zen7.Instance, error) {
	if apiKey == "" {
		return zen7.Instance{}, fmt.Errorf("%w: missing api-key", zen7.ErrUnauthorized)
	}
	inst, err := s.store.InstanceByAPIKey(ctx, apiKey)
	if errors.Is(err, zen7.ErrNotFound) {
		return zen7.Instance{}, fmt.Errorf("%w: unknown api-key", zen7.ErrUnauthorized)
	}
	if err != nil {
		return zen7.Instance{}, wrap("instance", err)
	}
	return inst, nil
}

// audit records a hook call. A failure to record is logged, not returned: the hook's effect
// has already happened and the caller must learn its true outcome.
func (s *Service) audit(ctx context.Context, instanceID, hook string, hookErr error, detail string) {
	e := zen7.AuditEntry{InstanceID: instanceID, Hook: hook, At: s.now(), Outcome: outcome(hookErr), Detail: detail}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.RecordAudit(actx, e); err != nil {
		s.logger.ErrorContext(ctx, "audit record failed", "instance", instanceID, "hook", hook, "error", err)
	}
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, zen7.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, zen7.ErrInvalid):
		return "invalid"
	case errors.Is(err, zen7.ErrConflict):
		return "conflict"
	case errors.Is(err, zen7.ErrUpstream):
		return "upstream_unavailable"
	default:
		return "error"
	}
}

// apiKeyProblem says what is wrong with an API key as Sales sends it, or "" if nothing.
func apiKeyProblem(k string) string {
	switch {
	case k == "":
		return "is required"
	case len(k) > 512:
		return "must be at most 512 characters"
	case strings.IndexFunc(k, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || r == ' ' }) >= 0:
		return "must be printable ASCII without spaces"
	}
	return ""
}

// newID returns a random instance id: 24 hex characters, the shape of Sales' own ids.
func newID() string { return secret.RandomHex(12) }
