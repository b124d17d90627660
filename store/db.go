// Package store persists the App's data in MongoDB. With no connection string it starts an
// embedded MongoDB-compatible store (FerretDB on SQLite) in-process and talks to it through the
// same driver and the same code, so development, tests and production differ only in the URI.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Config says which store to open.
type Config struct {
	// URI is a MongoDB connection string. Empty starts the embedded store in DataDir.
	URI string
	// Database is the database name.
	Database string
	// DataDir holds the embedded store's files.
	DataDir string
	// Logger receives the store's own messages (the embedded store's only at error level).
	Logger *slog.Logger
	// Monitor, if set, sees every command the client sends. cmd/loadgen counts the store's
	// commands per webhook and per delivery with it; the App itself sets none.
	Monitor *event.CommandMonitor
}

// DB is an open store: one MongoDB client for the whole process and the App's database.
type DB struct {
	client *mongo.Client
	db     *mongo.Database
	// intake is a second connection to the embedded store for the webhook intake's inserts;
	// nil on MongoDB, where the one client's pool serves everything.
	intake   *mongo.Client
	embedded *Embedded // nil when connected to a MongoDB server
	shared   bool      // embedded belongs to the DB this one was made from (WithDatabase)
	// sqlite reads from the embedded store's file what FerretDB would find by scanning (the
	// report's rows, the due deliveries); nil on MongoDB.
	sqlite  *sqliteFile
	monitor *event.CommandMonitor // Config.Monitor
}

// maxUpdateStatements bounds the statements of one update command on the embedded store:
// FerretDB v1 holds a SQLite connection for each statement of an update until the command
// returns, and keeps every connection it ever opened, each with its page cache (docs/
// BENCHMARKS.md, "The SQLite connections, pinned down"); a longer command would raise what
// the App holds for good.
const maxUpdateStatements = 8

// updateChunk is how many of n statements to send in one update command.
func (d *DB) updateChunk(n int) int {
	if d.embedded != nil {
		return min(n, maxUpdateStatements)
	}
	return max(n, 1)
}

// Open connects to the store cfg names, pings it and ensures the indexes.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &DB{monitor: cfg.Monitor}
	uri := cfg.URI
	if uri == "" {
		e, err := StartEmbedded(cfg.DataDir, cfg.Logger)
		if err != nil {
			return nil, err
		}
		d.embedded, uri = e, e.URI()
		d.sqlite = newSQLiteFile(e.dir, cfg.Database, cfg.Monitor)
	}
	client, err := connect(ctx, uri, d.embedded != nil, cfg.Monitor)
	if err != nil {
		d.stopEmbedded()
		return nil, err
	}
	d.client, d.db = client, client.Database(cfg.Database)
	if d.embedded != nil {
		if d.intake, err = connect(ctx, uri, true, cfg.Monitor); err != nil {
			_ = d.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	if err := d.EnsureIndexes(ctx); err != nil {
		_ = d.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return d, nil
}

// Connect returns a pinged client for uri. embedded selects a single connection: FerretDB v1
// runs each update as an unisolated read-modify-write, and only one connection serialises
// them, which makes single-document conditional updates atomic as they are on MongoDB.
func Connect(ctx context.Context, uri string, embedded bool) (*mongo.Client, error) {
	return connect(ctx, uri, embedded, nil)
}

func connect(ctx context.Context, uri string, embedded bool, monitor *event.CommandMonitor) (*mongo.Client, error) {
	opts := options.Client().ApplyURI(uri).
		SetAppName("zenvia-7targets").
		SetServerSelectionTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second)
	if embedded {
		opts.SetMaxPoolSize(1)
	}
	if monitor != nil {
		opts.SetMonitor(monitor)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("store.Connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(pctx, nil); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("store.Connect: ping: %w", err)
	}
	return client, nil
}

// WithDatabase returns a DB on another database of the same client, for tests that need a
// fresh database each; call EnsureIndexes on it before use. Closing it leaves the client and
// the embedded store open.
func (d *DB) WithDatabase(name string) *DB {
	w := &DB{client: d.client, db: d.client.Database(name), intake: d.intake, embedded: d.embedded, shared: true, monitor: d.monitor}
	if d.embedded != nil {
		w.sqlite = newSQLiteFile(d.embedded.dir, name, d.monitor)
	}
	return w
}

// Collection returns a collection of the App's database on the App's client. It is for tools
// that measure the store beside the App (cmd/loadgen's baseline); the App's own data is
// reached through Instances, Outbox and Pages.
func (d *DB) Collection(name string) *mongo.Collection { return d.db.Collection(name) }

// Embedded reports whether the DB runs on the in-process embedded store.
func (d *DB) Embedded() bool { return d.embedded != nil }

// Ping checks the store answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.Client().Ping(ctx, nil); err != nil {
		return fmt.Errorf("store.Ping: %w", err)
	}
	return nil
}

// Ready reports whether the store answers and takes writes: it upserts one small document by
// _id. A store that answers pings but cannot write (a full disk, a read-only member) cannot
// take a webhook, so it is not ready.
func (d *DB) Ready(ctx context.Context) error {
	_, err := d.collection(colHealth).UpdateOne(ctx, bson.D{{Key: "_id", Value: "readyz"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: time.Now().UTC()}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store.Ready: %w", err)
	}
	return nil
}

// Drop deletes the database with everything in it (tests use it to clean up).
func (d *DB) Drop(ctx context.Context) error {
	if d.sqlite != nil {
		_ = d.sqlite.close()
	}
	if err := d.db.Drop(ctx); err != nil {
		return fmt.Errorf("store.Drop: %w", err)
	}
	return nil
}

// Close disconnects and stops the embedded store if one was started.
func (d *DB) Close(ctx context.Context) error {
	var err error
	if d.sqlite != nil {
		err = d.sqlite.close()
	}
	if d.client != nil && !d.shared {
		err = errors.Join(err, d.client.Disconnect(ctx))
	}
	if d.intake != nil && !d.shared {
		err = errors.Join(err, d.intake.Disconnect(ctx))
	}
	d.stopEmbedded()
	if err != nil {
		return fmt.Errorf("store.Close: %w", err)
	}
	return nil
}

func (d *DB) stopEmbedded() {
	if d.embedded != nil && !d.shared {
		d.embedded.Stop()
	}
}

func (d *DB) collection(name string) *mongo.Collection { return d.db.Collection(name) }

// Collection names.
const (
	colInstances       = "instances"
	colAPIKeys         = "api_keys"
	colAudit           = "audit"
	colOutbox          = "outbox"
	colDeliveries      = "deliveries"
	colClaims          = "delivery_claims"
	colLeads           = "leads"
	colCreations       = "lead_creations"
	colGroups          = "groups"
	colNonces          = "action_nonces"
	colBackfills       = "backfills"
	colBackfillClaims  = "backfill_claims"
	colChatTonic       = "chattonic_sources"
	colChatTonicClaims = "chattonic_claims"
	colHealth          = "health" // the document /readyz writes
)

// indexes declares every secondary index, by collection. Hot lookups go by _id (API key hash,
// instance id) and need none; these serve the rarer scans. It is a function because the driver
// writes into the option values it is given.
func indexes() map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{
		colInstances: {
			{Keys: bson.D{{Key: "state", Value: 1}, {Key: "account.groupId", Value: 1}}, Options: options.Index().SetName("state_group")},
		},
		colAudit: {
			{Keys: bson.D{{Key: "instanceId", Value: 1}, {Key: "at", Value: -1}}, Options: options.Index().SetName("instance_at")},
		},
		colOutbox: {
			{Keys: bson.D{{Key: "nextAttemptAt", Value: 1}}, Options: options.Index().SetName("next_attempt")},
		},
		colGroups: { // an instance's groups, dropped when its tree changes and at uninstall
			{Keys: bson.D{{Key: "instanceId", Value: 1}, {Key: "at", Value: 1}}, Options: options.Index().SetName("instance_at")},
		},
		colLeads: {
			{Keys: bson.D{{Key: "instanceId", Value: 1}, {Key: "state", Value: 1}}, Options: options.Index().SetName("instance_state")},
		},
		colDeliveries: {
			{Keys: bson.D{{Key: "instanceId", Value: 1}, {Key: "day", Value: 1}}, Options: options.Index().SetName("instance_day")},
			{Keys: bson.D{{Key: "instanceId", Value: 1}, {Key: "prospect.id", Value: 1}}, Options: options.Index().SetName("instance_prospect")},
		},
	}
}

// EnsureIndexes creates the declared indexes, and on the embedded store the SQLite indexes
// FerretDB's own cannot stand in for (see indexIDLookups and sqliteFile); it is idempotent.
// Indexes are created one call each: FerretDB v1 panics on a createIndexes command holding two
// compound indexes.
func (d *DB) EnsureIndexes(ctx context.Context) error {
	for col, models := range indexes() {
		for _, m := range models {
			if _, err := d.collection(col).Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("store.EnsureIndexes %s: %w", col, err)
			}
		}
	}
	if d.embedded == nil {
		return nil
	}
	if err := d.embedded.indexIDLookups(ctx, d.db); err != nil {
		return err
	}
	return d.sqlite.prepare(ctx)
}
