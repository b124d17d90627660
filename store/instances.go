package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/secret"
)

// Instances persists App instances, their API key bindings and their audit trail.
//
// An instance's API key is found by its hash, which is the _id of a small binding document
// (collection api_keys): the hot lookup of every hook is two reads by _id. The instance
// document is the truth: a binding counts only while the instance it points to carries the
// same hash and is not uninstalled, so a binding left behind by a crash never authenticates.
// Every change is one conditional single-document update guarded by that hash, which is
// atomic on MongoDB and on the embedded store with its single connection.
type Instances struct {
	db      *DB
	keys    *secret.Keyring
	targets *targetCache // nil: WebhookTarget always reads
}

// NewInstances returns the instance store of db, sealing secrets with keys.
func NewInstances(db *DB, keys *secret.Keyring) *Instances {
	return &Instances{db: db, keys: keys}
}

// CacheWebhookTargets makes WebhookTarget keep what it reads for ttl (see targetCache). Call it
// before use; the App does, tests of the store mostly do not.
func (s *Instances) CacheWebhookTargets(ttl time.Duration) {
	if ttl > 0 {
		s.targets = newTargetCache(ttl)
	}
}

// changed drops what is cached of instance id after this process changed it.
func (s *Instances) changed(id string) {
	if s.targets != nil {
		s.targets.forget(id)
	}
}

type sealedDoc struct {
	KeyID string `bson:"kid"`
	Data  []byte `bson:"ct"`
}

type accountDoc struct {
	IntegrationID string     `bson:"integrationId"`
	GroupID       string     `bson:"groupId"`
	AccountID     string     `bson:"accountId"`
	Language      string     `bson:"language"`
	ParentGroupID string     `bson:"parentGroupId,omitempty"`
	ResolvedAt    *time.Time `bson:"resolvedAt,omitempty"`
	LastTriedAt   *time.Time `bson:"lastTriedAt,omitempty"`
}

type instanceDoc struct {
	ID            string      `bson:"_id"`
	State         string      `bson:"state"`
	Version       int64       `bson:"version"`
	APIKeyHash    string      `bson:"apiKeyHash,omitempty"`
	APIKey        *sealedDoc  `bson:"apiKey,omitempty"`
	Settings      bson.Raw    `bson:"settings"` // see toSettingsDoc
	Account       accountDoc  `bson:"account"`
	Webhook       *webhookDoc `bson:"webhook,omitempty"`
	InstalledAt   time.Time   `bson:"installedAt"`
	UpdatedAt     time.Time   `bson:"updatedAt"`
	UninstalledAt *time.Time  `bson:"uninstalledAt,omitempty"`
}

// webhookDoc is the instance's Sales notification subscription and the hash of the token in
// its callback URL.
type webhookDoc struct {
	SubscriptionID string    `bson:"subscriptionId"`
	TokenHash      string    `bson:"tokenHash"`
	At             time.Time `bson:"at"`
}

type apiKeyDoc struct {
	ID         string    `bson:"_id"` // hash of the API key
	InstanceID string    `bson:"instanceId"`
	CreatedAt  time.Time `bson:"createdAt"`
}

type auditDoc struct {
	ID         bson.ObjectID `bson:"_id"`
	InstanceID string        `bson:"instanceId"`
	Hook       string        `bson:"hook"`
	At         time.Time     `bson:"at"`
	Outcome    string        `bson:"outcome"`
	Detail     string        `bson:"detail,omitempty"`
}

// hashAPIKey returns the lookup key of an API key. Sales API keys are long random strings, so
// a plain SHA-256 cannot be reversed by guessing; a keyed hash would tie every lookup to the
// encryption key and break on its rotation.
func hashAPIKey(k string) string {
	sum := sha256.Sum256([]byte("zenvia-7targets api key\x00" + k))
	return hex.EncodeToString(sum[:])
}

func (s *Instances) seal(plain, context string) *sealedDoc {
	if plain == "" {
		return nil
	}
	sealed := s.keys.Seal([]byte(plain), context)
	return &sealedDoc{KeyID: sealed.KeyID, Data: sealed.Ciphertext}
}

func (s *Instances) open(d *sealedDoc, context string) (string, error) {
	if d == nil {
		return "", nil
	}
	plain, err := s.keys.Open(secret.Sealed{KeyID: d.KeyID, Ciphertext: d.Data}, context)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", context, err)
	}
	return string(plain), nil
}

func apiKeyContext(id string) string { return "instances/" + id + "/apiKey" }

// secretContext binds a sealed setting to its instance and key, so that a sealed value copied
// to another instance or key does not open.
func secretContext(id, name string) string { return "instances/" + id + "/settings." + name }

// toSettingsDoc returns the settings document of instance id: a key per zen7.SettingKeys entry,
// by its name and in table order, secrets sealed as {kid, ct} and left out when empty. It is
// built from the table rather than declared as a struct, so that a new setting needs no change
// here; the layout is the one the struct it replaced wrote, which existing documents hold.
func (s *Instances) toSettingsDoc(id string, in zen7.Settings) (bson.Raw, error) {
	d := make(bson.D, 0, len(zen7.SettingKeys()))
	for _, k := range zen7.SettingKeys() {
		value := k.Value(in)
		if k.Secret {
			sealed := s.seal(*k.Text(&in), secretContext(id, k.Name))
			if sealed == nil {
				continue
			}
			value = sealed
		}
		d = append(d, bson.E{Key: k.Name, Value: value})
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("settings document: %w", err)
	}
	return raw, nil
}

// toSettings reads the settings document of instance id. A key the document lacks (a setting
// added since the instance was last saved) reads as its default, as on a fresh install; keys
// that are no setting are ignored, as the struct decoding before it did.
func (s *Instances) toSettings(id string, doc bson.Raw) (zen7.Settings, error) {
	stored := map[string]bson.RawValue{}
	if len(doc) > 0 {
		elems, err := doc.Elements()
		if err != nil {
			return zen7.Settings{}, fmt.Errorf("settings document: %w", err)
		}
		for _, e := range elems {
			stored[e.Key()] = e.Value()
		}
	}
	out := zen7.DefaultSettings()
	for _, k := range zen7.SettingKeys() {
		v, ok := stored[k.Name]
		if !ok {
			continue
		}
		var err error
		switch {
		case k.Secret:
			var sealed *sealedDoc
			if err = v.Unmarshal(&sealed); err == nil {
				*k.Text(&out), err = s.open(sealed, secretContext(id, k.Name))
			}
		case k.Kind() == zen7.SettingText:
			err = v.Unmarshal(k.Text(&out))
		case k.Kind() == zen7.SettingBool:
			err = v.Unmarshal(k.Bool(&out))
		case k.Kind() == zen7.SettingNumber:
			err = v.Unmarshal(k.Number(&out))
		}
		if err != nil {
			return zen7.Settings{}, fmt.Errorf("settings.%s: %w", k.Name, err)
		}
	}
	return out, nil
}

// secretSettingPaths are the document paths of the sealed settings.
func secretSettingPaths() []string {
	var paths []string
	for _, k := range zen7.SettingKeys() {
		if k.Secret {
			paths = append(paths, "settings."+k.Name)
		}
	}
	return paths
}

func (s *Instances) toInstanceDoc(in zen7.Instance) (instanceDoc, error) {
	settings, err := s.toSettingsDoc(in.ID, in.Settings)
	if err != nil {
		return instanceDoc{}, err
	}
	return instanceDoc{
		ID:          in.ID,
		State:       string(in.State),
		Version:     in.Version,
		APIKeyHash:  hashAPIKey(in.APIKey),
		APIKey:      s.seal(in.APIKey, apiKeyContext(in.ID)),
		Settings:    settings,
		Account:     toAccountDoc(in.Account),
		InstalledAt: in.InstalledAt,
		UpdatedAt:   in.UpdatedAt,
	}, nil
}

func toAccountDoc(a zen7.Account) accountDoc {
	d := accountDoc{IntegrationID: a.IntegrationID, GroupID: a.GroupID, AccountID: a.AccountID, Language: a.Language, ParentGroupID: a.ParentGroupID}
	if !a.ResolvedAt.IsZero() {
		t := a.ResolvedAt
		d.ResolvedAt = &t
	}
	if !a.LastTriedAt.IsZero() {
		t := a.LastTriedAt
		d.LastTriedAt = &t
	}
	return d
}

func (s *Instances) toInstance(d instanceDoc) (zen7.Instance, error) {
	apiKey, err := s.open(d.APIKey, apiKeyContext(d.ID))
	if err != nil {
		return zen7.Instance{}, err
	}
	settings, err := s.toSettings(d.ID, d.Settings)
	if err != nil {
		return zen7.Instance{}, err
	}
	in := zen7.Instance{
		ID:       d.ID,
		State:    zen7.State(d.State),
		APIKey:   apiKey,
		Version:  d.Version,
		Settings: settings,
		Account: zen7.Account{
			IntegrationID: d.Account.IntegrationID,
			GroupID:       d.Account.GroupID,
			AccountID:     d.Account.AccountID,
			Language:      d.Account.Language,
			ParentGroupID: d.Account.ParentGroupID,
		},
		InstalledAt: d.InstalledAt.UTC(),
		UpdatedAt:   d.UpdatedAt.UTC(),
	}
	if d.Account.ResolvedAt != nil {
		in.Account.ResolvedAt = d.Account.ResolvedAt.UTC()
	}
	if d.Account.LastTriedAt != nil {
		in.Account.LastTriedAt = d.Account.LastTriedAt.UTC()
	}
	if d.Webhook != nil {
		in.Subscription = zen7.Subscription{ID: d.Webhook.SubscriptionID, At: d.Webhook.At.UTC()}
	}
	if d.UninstalledAt != nil {
		in.UninstalledAt = d.UninstalledAt.UTC()
	}
	return in, nil
}

// liveFilter matches the instance only while hash is its current key and it is installed (and,
// if given, in none of the states also excluded).
func liveFilter(id, hash string, alsoNot ...zen7.State) bson.D {
	not := bson.A{string(zen7.StateUninstalled)}
	for _, st := range alsoNot {
		not = append(not, string(st))
	}
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "apiKeyHash", Value: hash},
		{Key: "state", Value: bson.D{{Key: "$nin", Value: not}}},
	}
}

// CreateInstance implements lifecycle.Store.
func (s *Instances) CreateInstance(ctx context.Context, in zen7.Instance) error {
	doc, err := s.toInstanceDoc(in)
	if err != nil {
		return fmt.Errorf("store.CreateInstance: %w", err)
	}
	if _, err := s.db.collection(colInstances).InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("store.CreateInstance: %w", err)
	}
	if err := s.bindKey(ctx, hashAPIKey(in.APIKey), in.ID, in.InstalledAt); err != nil {
		// Leave no unreachable instance behind; if this delete fails too, the orphan is inert.
		_, _ = s.db.collection(colInstances).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: in.ID}})
		return fmt.Errorf("store.CreateInstance: %w", err)
	}
	return nil
}

// bindKey points the API key hash at instance id. The unique _id of the binding is what makes
// concurrent installs (or refreshes to one key) pick one winner, in one process or many.
// It returns lifecycle.ErrConflict if the key is bound to another live instance.
func (s *Instances) bindKey(ctx context.Context, hash, id string, at time.Time) error {
	keys := s.db.collection(colAPIKeys)
	for range 3 {
		_, err := keys.InsertOne(ctx, apiKeyDoc{ID: hash, InstanceID: id, CreatedAt: at})
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return err
		}
		var existing apiKeyDoc
		switch err := keys.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&existing); {
		case errors.Is(err, mongo.ErrNoDocuments):
			continue // unbound meanwhile: try again
		case err != nil:
			return err
		}
		if existing.InstanceID == id {
			return nil // a repeat of the same binding
		}
		live, err := s.isLive(ctx, existing.InstanceID, hash)
		if err != nil {
			return err
		}
		if live {
			return zen7.ErrConflict
		}
		// A stale binding of an uninstalled or re-keyed instance: drop it, but only it.
		if _, err := keys.DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "instanceId", Value: existing.InstanceID}}); err != nil {
			return err
		}
	}
	return zen7.ErrConflict
}

func (s *Instances) isLive(ctx context.Context, id, hash string) (bool, error) {
	n, err := s.db.collection(colInstances).CountDocuments(ctx, liveFilter(id, hash))
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// InstanceByAPIKey implements lifecycle.Store.
func (s *Instances) InstanceByAPIKey(ctx context.Context, apiKey string) (zen7.Instance, error) {
	hash := hashAPIKey(apiKey)
	var binding apiKeyDoc
	err := s.db.collection(colAPIKeys).FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&binding)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.InstanceByAPIKey: %w", err)
	}
	doc, err := s.findDoc(ctx, binding.InstanceID)
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.InstanceByAPIKey: %w", err)
	}
	if doc.State == string(zen7.StateUninstalled) ||
		subtle.ConstantTimeCompare([]byte(doc.APIKeyHash), []byte(hash)) != 1 {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	in, err := s.toInstance(doc)
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.InstanceByAPIKey: %w", err)
	}
	return in, nil
}

// Instance returns the instance with id, whatever its state.
// It returns lifecycle.ErrNotFound if there is none.
func (s *Instances) Instance(ctx context.Context, id string) (zen7.Instance, error) {
	doc, err := s.findDoc(ctx, id)
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.Instance: %w", err)
	}
	in, err := s.toInstance(doc)
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.Instance: %w", err)
	}
	return in, nil
}

// InstancesByID returns those of the instances with ids that exist, whatever their state, by
// id, with one read. On the embedded store it reads the SQLite file by the _id index
// (sqliteFile.instances), where FerretDB would scan for an $in; should that fail, it asks the
// driver.
func (s *Instances) InstancesByID(ctx context.Context, ids []string) (map[string]zen7.Instance, error) {
	if len(ids) == 0 {
		return map[string]zen7.Instance{}, nil
	}
	if s.db.sqlite != nil {
		if docs, err := s.db.sqlite.instances(ctx, ids); err == nil {
			list, err := s.openAll(docs)
			if err != nil {
				return nil, fmt.Errorf("store.InstancesByID: %w", err)
			}
			return byID(list), nil
		}
	}
	list, err := s.find(ctx, "store.InstancesByID", idsFilter(ids), 0, nil)
	if err != nil {
		return nil, err
	}
	return byID(list), nil
}

// idsFilter matches the documents with the given _ids.
func idsFilter(ids []string) bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
}

// byID indexes instances by their id.
func byID(list []zen7.Instance) map[string]zen7.Instance {
	out := make(map[string]zen7.Instance, len(list))
	for _, in := range list {
		out[in.ID] = in
	}
	return out
}

func (s *Instances) findDoc(ctx context.Context, id string) (instanceDoc, error) {
	var doc instanceDoc
	err := s.db.collection(colInstances).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return doc, zen7.ErrNotFound
	}
	return doc, err
}

// update applies update to the instance matching filter and returns it as it is after.
// It returns errNoMatch if nothing matched.
func (s *Instances) update(ctx context.Context, filter, update bson.D) (zen7.Instance, error) {
	var doc instanceDoc
	err := s.db.collection(colInstances).
		FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).
		Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return zen7.Instance{}, errNoMatch
	}
	if err != nil {
		return zen7.Instance{}, err
	}
	return s.toInstance(doc)
}

var errNoMatch = errors.New("no instance matched")

// SetState implements lifecycle.Store.
func (s *Instances) SetState(ctx context.Context, id, apiKey string, state zen7.State, at time.Time) (zen7.Instance, error) {
	hash := hashAPIKey(apiKey)
	defer s.changed(id)
	in, err := s.update(ctx, liveFilter(id, hash, state), bson.D{
		{Key: "$set", Value: bson.D{{Key: "state", Value: string(state)}, {Key: "updatedAt", Value: at}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	})
	if errors.Is(err, errNoMatch) {
		// Already in that state (a repeated hook), or no longer live.
		in, err = s.liveInstance(ctx, id, hash)
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.SetState: %w", err)
	}
	return in, nil
}

func (s *Instances) liveInstance(ctx context.Context, id, hash string) (zen7.Instance, error) {
	var doc instanceDoc
	err := s.db.collection(colInstances).FindOne(ctx, liveFilter(id, hash)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return zen7.Instance{}, zen7.ErrNotFound
	}
	if err != nil {
		return zen7.Instance{}, err
	}
	return s.toInstance(doc)
}

// ReplaceSettings implements lifecycle.Store.
func (s *Instances) ReplaceSettings(ctx context.Context, id, apiKey string, version int64, set zen7.Settings, at time.Time) (zen7.Instance, error) {
	doc, err := s.toSettingsDoc(id, set)
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.ReplaceSettings: %w", err)
	}
	hash := hashAPIKey(apiKey)
	filter := append(liveFilter(id, hash), bson.E{Key: "version", Value: version})
	in, err := s.update(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{{Key: "settings", Value: doc}, {Key: "updatedAt", Value: at}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	})
	if errors.Is(err, errNoMatch) {
		live, lerr := s.isLive(ctx, id, hash)
		switch {
		case lerr != nil:
			err = lerr
		case live:
			err = zen7.ErrConflict
		default:
			err = zen7.ErrNotFound
		}
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.ReplaceSettings: %w", err)
	}
	return in, nil
}

// RotateAPIKey implements lifecycle.Store. It binds the new key first, then moves the instance
// to it, then drops the old binding: a crash between steps leaves at most an inert binding,
// and Sales repeating the refresh completes it.
func (s *Instances) RotateAPIKey(ctx context.Context, id, oldKey, newKey string, at time.Time) (zen7.Instance, error) {
	oldHash, newHash := hashAPIKey(oldKey), hashAPIKey(newKey)
	if oldHash == newHash {
		in, err := s.liveInstance(ctx, id, oldHash)
		if err != nil {
			return zen7.Instance{}, fmt.Errorf("store.RotateAPIKey: %w", err)
		}
		return in, nil
	}
	if err := s.bindKey(ctx, newHash, id, at); err != nil {
		return zen7.Instance{}, fmt.Errorf("store.RotateAPIKey: %w", err)
	}
	in, err := s.update(ctx, liveFilter(id, oldHash), bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "apiKeyHash", Value: newHash},
			{Key: "apiKey", Value: s.seal(newKey, apiKeyContext(id))},
			{Key: "updatedAt", Value: at},
		}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	})
	if errors.Is(err, errNoMatch) {
		// A repeat of this refresh finds it done; otherwise the old key lost the instance to
		// another hook, and our binding is undone.
		if in, err = s.liveInstance(ctx, id, newHash); errors.Is(err, zen7.ErrNotFound) {
			_, _ = s.db.collection(colAPIKeys).DeleteOne(ctx, bson.D{{Key: "_id", Value: newHash}, {Key: "instanceId", Value: id}})
		}
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.RotateAPIKey: %w", err)
	}
	if _, err := s.db.collection(colAPIKeys).DeleteOne(ctx, bson.D{{Key: "_id", Value: oldHash}, {Key: "instanceId", Value: id}}); err != nil {
		return zen7.Instance{}, fmt.Errorf("store.RotateAPIKey: drop old binding: %w", err)
	}
	return in, nil
}

// Uninstall implements lifecycle.Store.
func (s *Instances) Uninstall(ctx context.Context, id, apiKey string, at time.Time) (zen7.Instance, error) {
	hash := hashAPIKey(apiKey)
	defer s.changed(id)
	unset := bson.D{{Key: "apiKeyHash", Value: ""}, {Key: "apiKey", Value: ""}, {Key: "webhook", Value: ""}}
	for _, path := range secretSettingPaths() {
		unset = append(unset, bson.E{Key: path, Value: ""})
	}
	in, err := s.update(ctx, liveFilter(id, hash), bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "state", Value: string(zen7.StateUninstalled)},
			{Key: "uninstalledAt", Value: at},
			{Key: "updatedAt", Value: at},
		}},
		{Key: "$unset", Value: unset},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	})
	if errors.Is(err, errNoMatch) {
		err = zen7.ErrNotFound
	}
	if err != nil {
		return zen7.Instance{}, fmt.Errorf("store.Uninstall: %w", err)
	}
	// Its groups show no page any more (the pages check the instance too, so one left by a
	// failed drop is inert), and a shallower installation may take them back.
	groupsErr := dropGroups(ctx, s.db, id)
	// The binding no longer authenticates (the instance lost its hash); dropping it lets the
	// same key be installed afresh without a stale-binding cleanup.
	if _, err := s.db.collection(colAPIKeys).DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "instanceId", Value: id}}); err != nil {
		return in, fmt.Errorf("store.Uninstall: drop binding: %w", errors.Join(err, groupsErr))
	}
	if groupsErr != nil {
		return in, fmt.Errorf("store.Uninstall: %w", groupsErr)
	}
	return in, nil
}

// SetAccount implements lifecycle.Store.
func (s *Instances) SetAccount(ctx context.Context, id string, a zen7.Account) error {
	_, err := s.db.collection(colInstances).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: bson.D{{Key: "$ne", Value: string(zen7.StateUninstalled)}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "account", Value: toAccountDoc(a)}}}})
	if err != nil {
		return fmt.Errorf("store.SetAccount: %w", err)
	}
	return nil
}

// InstancesWithoutAccount implements lifecycle.Store. It scans, which is fine for this rare
// background query; the hot paths go by _id.
func (s *Instances) InstancesWithoutAccount(ctx context.Context, limit int) ([]zen7.Instance, error) {
	return s.find(ctx, "store.InstancesWithoutAccount", bson.D{
		{Key: "state", Value: bson.D{{Key: "$ne", Value: string(zen7.StateUninstalled)}}},
		{Key: "account.groupId", Value: ""},
	}, limit, bson.D{{Key: "account.lastTriedAt", Value: 1}, {Key: "_id", Value: 1}})
}

// AccountsToRefresh implements lifecycle.Store: up to limit live instances whose account was
// resolved before t and not tried since, least recently resolved first. It scans, as
// InstancesWithoutAccount does.
func (s *Instances) AccountsToRefresh(ctx context.Context, t time.Time, limit int) ([]zen7.Instance, error) {
	return s.find(ctx, "store.AccountsToRefresh", bson.D{
		{Key: "state", Value: bson.D{{Key: "$ne", Value: string(zen7.StateUninstalled)}}},
		{Key: "account.groupId", Value: bson.D{{Key: "$ne", Value: ""}}},
		{Key: "account.resolvedAt", Value: bson.D{{Key: "$lt", Value: t}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "account.lastTriedAt", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "account.lastTriedAt", Value: bson.D{{Key: "$lt", Value: t}}}},
		}},
	}, limit, bson.D{{Key: "account.resolvedAt", Value: 1}, {Key: "_id", Value: 1}})
}

// InstancesToReconcile implements forwarding.SubscriptionStore: enabled instances without a
// subscription and disabled ones with one (settings completeness is the caller's to judge).
func (s *Instances) InstancesToReconcile(ctx context.Context) ([]zen7.Instance, error) {
	return s.find(ctx, "store.InstancesToReconcile", bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "state", Value: string(zen7.StateEnabled)}, {Key: "webhook", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "state", Value: string(zen7.StateDisabled)}, {Key: "webhook", Value: bson.D{{Key: "$exists", Value: true}}}},
	}}}, 0, nil)
}

// LiveInstances implements forwarding.SubscriptionStore.
func (s *Instances) LiveInstances(ctx context.Context) ([]zen7.Instance, error) {
	return s.find(ctx, "store.LiveInstances", bson.D{
		{Key: "state", Value: bson.D{{Key: "$ne", Value: string(zen7.StateUninstalled)}}},
	}, 0, nil)
}

func (s *Instances) find(ctx context.Context, op string, filter bson.D, limit int, sort bson.D) ([]zen7.Instance, error) {
	opts := options.Find()
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	if sort != nil {
		opts.SetSort(sort)
	}
	cur, err := s.db.collection(colInstances).Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var docs []instanceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out, err := s.openAll(docs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// openAll turns stored instances into instances, their secrets opened.
func (s *Instances) openAll(docs []instanceDoc) ([]zen7.Instance, error) {
	out := make([]zen7.Instance, 0, len(docs))
	for _, d := range docs {
		in, err := s.toInstance(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.ID, err)
		}
		out = append(out, in)
	}
	return out, nil
}

// SetSubscription implements forwarding.SubscriptionStore.
func (s *Instances) SetSubscription(ctx context.Context, id string, sub zen7.Subscription, tokenHash string) error {
	defer s.changed(id)
	_, err := s.db.collection(colInstances).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: bson.D{{Key: "$ne", Value: string(zen7.StateUninstalled)}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "webhook", Value: webhookDoc{SubscriptionID: sub.ID, TokenHash: tokenHash, At: sub.At}}}}})
	if err != nil {
		return fmt.Errorf("store.SetSubscription: %w", err)
	}
	return nil
}

// ClearSubscription implements forwarding.SubscriptionStore.
func (s *Instances) ClearSubscription(ctx context.Context, id, subscriptionID string) error {
	defer s.changed(id)
	_, err := s.db.collection(colInstances).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "webhook.subscriptionId", Value: subscriptionID}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "webhook", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("store.ClearSubscription: %w", err)
	}
	return nil
}

// WebhookTarget implements forwarding.WebhookTargets: one read by _id, projected to what the
// webhook check needs, with nothing to decrypt.
func (s *Instances) WebhookTarget(ctx context.Context, id string) (zen7.State, string, error) {
	if s.targets == nil {
		return s.readWebhookTarget(ctx, id)
	}
	state, hash, ok, gen := s.targets.get(id)
	if ok {
		return state, hash, nil
	}
	state, hash, err := s.readWebhookTarget(ctx, id)
	// Only what lets webhooks in is kept: a stale "no" from another replica's change would
	// refuse genuine notifications, a stale "yes" only lets in what the worker then skips.
	if err == nil && state == zen7.StateEnabled && hash != "" {
		s.targets.put(id, state, hash, gen)
	}
	return state, hash, err
}

func (s *Instances) readWebhookTarget(ctx context.Context, id string) (zen7.State, string, error) {
	var doc struct {
		State   string      `bson:"state"`
		Webhook *webhookDoc `bson:"webhook"`
	}
	err := s.db.collection(colInstances).FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "state", Value: 1}, {Key: "webhook", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", "", zen7.ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("store.WebhookTarget: %w", err)
	}
	if doc.Webhook == nil || doc.State == string(zen7.StateUninstalled) {
		return zen7.State(doc.State), "", nil
	}
	return zen7.State(doc.State), doc.Webhook.TokenHash, nil
}

// RecordAudit implements lifecycle.Store.
func (s *Instances) RecordAudit(ctx context.Context, e zen7.AuditEntry) error {
	_, err := s.db.collection(colAudit).InsertOne(ctx, auditDoc{
		ID: bson.NewObjectID(), InstanceID: e.InstanceID, Hook: e.Hook, At: e.At, Outcome: e.Outcome, Detail: e.Detail,
	})
	if err != nil {
		return fmt.Errorf("store.RecordAudit: %w", err)
	}
	return nil
}

// AuditTrail returns the instance's audit entries, oldest first.
func (s *Instances) AuditTrail(ctx context.Context, instanceID string) ([]zen7.AuditEntry, error) {
	cur, err := s.db.collection(colAudit).Find(ctx, bson.D{{Key: "instanceId", Value: instanceID}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("store.AuditTrail: %w", err)
	}
	var docs []auditDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("store.AuditTrail: %w", err)
	}
	out := make([]zen7.AuditEntry, 0, len(docs))
	for _, d := range docs {
		out = append(out, zen7.AuditEntry{InstanceID: d.InstanceID, Hook: d.Hook, At: d.At.UTC(), Outcome: d.Outcome, Detail: d.Detail})
	}
	return out, nil
}

// Rekey seals again, with the keyring's current key, every stored secret sealed with another
// key, and returns how many instances it rewrote. Each rewrite is conditional on the instance's
// version, so a hook racing it wins and the instance is left for the next run. After a run with
// nothing left under old keys, the old keys can leave the configuration.
func (s *Instances) Rekey(ctx context.Context) (int, error) {
	current := s.keys.CurrentKeyID()
	sealedElsewhere := bson.D{{Key: "$exists", Value: true}, {Key: "$ne", Value: current}}
	or := bson.A{bson.D{{Key: "apiKey.kid", Value: sealedElsewhere}}}
	for _, path := range secretSettingPaths() {
		or = append(or, bson.D{{Key: path + ".kid", Value: sealedElsewhere}})
	}
	stale := bson.D{{Key: "$or", Value: or}}
	cur, err := s.db.collection(colInstances).Find(ctx, stale)
	if err != nil {
		return 0, fmt.Errorf("store.Rekey: %w", err)
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var d instanceDoc
		if err := cur.Decode(&d); err != nil {
			return n, fmt.Errorf("store.Rekey: %w", err)
		}
		in, err := s.toInstance(d) // opens with whichever key sealed it
		if err != nil {
			return n, fmt.Errorf("store.Rekey %s: %w", d.ID, err)
		}
		set := bson.D{}
		if d.APIKey != nil {
			set = append(set, bson.E{Key: "apiKey", Value: s.seal(in.APIKey, apiKeyContext(d.ID))})
		}
		for _, k := range zen7.SettingKeys() {
			if !k.Secret {
				continue
			}
			if v, err := d.Settings.LookupErr(k.Name); err == nil && v.Type == bson.TypeEmbeddedDocument {
				set = append(set, bson.E{Key: "settings." + k.Name, Value: s.seal(*k.Text(&in.Settings), secretContext(d.ID, k.Name))})
			}
		}
		res, err := s.db.collection(colInstances).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: d.ID}, {Key: "version", Value: d.Version}},
			bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
		if err != nil {
			return n, fmt.Errorf("store.Rekey %s: %w", d.ID, err)
		}
		n += int(res.ModifiedCount)
	}
	return n, cur.Err()
}
