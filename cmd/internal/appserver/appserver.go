// Package appserver assembles the App from its parts (store, clients, lifecycle, forwarding,
// extensions, HTTP) and runs it until its context ends. It is the wiring shared by the
// production server and the sandbox, so both run exactly the same App.
package appserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/store"
)

// Config is everything the App needs, already validated.
type Config struct {
	// Host is the address the App listens on: "" for every interface (production, behind a
	// load balancer), "127.0.0.1" for this machine only (development mode, the sandbox).
	Host                 string
	Port                 int
	PublicBaseURL        string
	MongoURI             string // empty: the embedded store in DataDir
	MongoDatabase        string
	DataDir              string
	AppID, AppSecret     string
	SigningKey           string
	ZenviaAPIURL         string
	SevenTargetsAPIURL   string
	SevenTargetsTokenURL string
	ChatTonicAPIURL      string
	EncryptionKey        []byte
	PreviousKeys         [][]byte // still open secrets sealed before a rotation
	FrameAncestors       string
	TrustedProxies       []netip.Prefix // load balancers whose X-Forwarded-For names the client
	// DevMode only changes what is logged at start (Host says where the App listens).
	DevMode bool
	// LogValue is what is logged of the configuration at start (secrets left out).
	LogValue slog.Value
	// Backfill tunes the backfill loop; the server leaves it zero (the defaults), the sandbox
	// makes it quicker to show.
	Backfill forwarding.BackfillConfig
	// ChatTonic tunes the Chat-Tonic import; the server sets only its Interval
	// (CHATTONIC_POLL_INTERVAL), the sandbox makes it quicker to show.
	ChatTonic forwarding.ChatTonicConfig
	// Bench is what cmd/loadgen changes to measure the App; the server leaves it zero.
	Bench Bench
}

// Bench adjusts the App for measuring it.
type Bench struct {
	// Mount adds routes behind the App's middleware, given the App's store.
	Mount func(gin.IRouter, *store.DB)
	// NoWorker runs the App without its delivery worker, to measure intake alone.
	NoWorker bool
	// NoTargetCache makes every webhook read its instance from the store.
	NoTargetCache bool
	// Limits replaces the default rate limits.
	Limits app.Limits
	// StoreMonitor sees every command the App sends to its store, to count them.
	StoreMonitor *event.CommandMonitor
}

// webhookTargetTTL is how long a replica trusts what it read of an instance to authenticate
// its webhooks; changes made by this replica apply at once, another replica's after this.
const webhookTargetTTL = 10 * time.Second

// Run starts the App and blocks until ctx ends, then shuts down in order: HTTP first (finish
// in-flight requests), then background workers (finish deliveries in flight), then the store.
// ready, if not nil, receives the listening address once the App serves.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ready chan<- string) error {
	keys, err := secret.NewKeyring(cfg.EncryptionKey, cfg.PreviousKeys...)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := db.Close(cctx); err != nil {
			logger.Error("closing the store", "error", err)
		}
	}()

	if err := claimPublicBaseURL(ctx, cfg, db); err != nil {
		return err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := forwarding.NewMetrics(registry)

	salesClient, err := sales.New(cfg.ZenviaAPIURL, sales.WithObserver(metrics.ObserveSalesCall))
	if err != nil {
		return fmt.Errorf("ZENVIA_API_URL: %w", err)
	}
	stClient, err := seventargets.New(cfg.SevenTargetsAPIURL, cfg.SevenTargetsTokenURL, seventargets.WithObserver(metrics))
	if err != nil {
		return fmt.Errorf("SEVENTARGETS_API_URL: %w", err)
	}
	chatTonicClient, err := chattonic.New(cfg.ChatTonicAPIURL, chattonic.WithObserver(metrics.ObserveChatTonicCall))
	if err != nil {
		return fmt.Errorf("CHATTONIC_API_URL: %w", err)
	}

	instances := store.NewInstances(db, keys)
	if !cfg.Bench.NoTargetCache {
		instances.CacheWebhookTargets(webhookTargetTTL)
	}
	outbox := store.NewOutbox(db)
	svc := lifecycle.NewService(lifecycle.Config{AppID: cfg.AppID, AppSecret: cfg.AppSecret},
		instances, lifecycle.SalesAccounts(salesClient), lifecycle.SevenTargetsChecker(stClient), logger)
	subscriber := forwarding.NewSubscriber(salesClient, instances, cfg.PublicBaseURL, logger)
	subscriber.SetDeployment(db)
	svc.SetSubscriptions(subscriber)
	svc.SetChatTonic(lifecycle.ChatTonicAccounts(chatTonicClient))
	worker := forwarding.NewWorker(forwarding.WorkerConfig{}, outbox, instances, stClient, salesClient, metrics, logger)
	worker.SetRetailLeads(salesClient)
	intake := forwarding.NewIntake(outbox, instances, worker, metrics)
	batcher := forwarding.NewBatcher(store.NewIntakeOutbox(db), 0, 0) // group commit of webhooks
	intake.SetEnqueuer(batcher)
	backfills := store.NewBackfills(db)
	backfiller := forwarding.NewBackfiller(cfg.Backfill, backfills, instances, salesClient, intake, logger)
	svc.SetBackfills(backfiller)
	chatTonic := forwarding.NewChatTonicPoller(cfg.ChatTonic, store.NewChatTonicSources(db), instances, chatTonicClient, intake, metrics, logger)

	pagesSvc := extensions.NewService(extensions.Deps{
		Store: store.NewPages(db), Instances: instances, Outbox: outbox, Trees: svc, Assistants: stClient, Prospects: salesClient,
		Queue: intake, Tokens: extensions.NewTokens([]byte(cfg.SigningKey), 0), Logger: logger,
	})

	var mount func(gin.IRouter)
	if cfg.Bench.Mount != nil {
		mount = func(r gin.IRouter) { cfg.Bench.Mount(r, db) }
	}
	handler := app.New(app.Config{
		Logger: logger, Lifecycle: svc, Intake: intake, Store: db, Registry: registry,
		Extensions: pagesSvc, SigningKey: []byte(cfg.SigningKey), PublicBaseURL: cfg.PublicBaseURL, FrameAncestors: cfg.FrameAncestors,
		TrustedProxies: cfg.TrustedProxies, Limits: cfg.Bench.Limits, Mount: mount,
	})

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("PORT: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = (&lifecycle.AccountSync{Service: svc, Logger: logger}).Run(workers) })
	wg.Go(func() { _ = subscriber.Run(workers, time.Minute) })
	if !cfg.Bench.NoWorker {
		wg.Go(func() { _ = worker.Run(workers) })
	}
	wg.Go(func() { _ = batcher.Run(workers) })
	// The backfill and the Chat-Tonic import stop before the workers: they hand their leases
	// back while the deliveries they queued still have a worker to finish them.
	sourcing, stopSources := context.WithCancel(workers)
	defer stopSources()
	var sourcesDone sync.WaitGroup
	sourcesDone.Go(func() { _ = backfiller.Run(sourcing) })
	sourcesDone.Go(func() { _ = chatTonic.Run(sourcing) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "config", cfg.LogValue)
	if cfg.DevMode {
		// Said once serving, not before: a process that stops at start prints only why.
		logger.Info("development mode: the generated App credentials are in DATA_DIR", "data_dir", cfg.DataDir)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-serveErr:
		stopSources()
		sourcesDone.Wait()
		stopWorkers()
		wg.Wait()
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("http shutdown", "error", err)
	}
	stopSources()
	sourcesDone.Wait()
	stopWorkers()
	wg.Wait()
	logger.Info("stopped")
	return nil
}

// Rekey seals every stored secret again with the current key (after ENCRYPTION_KEY changed,
// with the old key in PreviousKeys) and returns how many instances it rewrote.
func Rekey(ctx context.Context, cfg Config, logger *slog.Logger) (int, error) {
	keys, err := secret.NewKeyring(cfg.EncryptionKey, cfg.PreviousKeys...)
	if err != nil {
		return 0, err
	}
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return 0, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	return store.NewInstances(db, keys).Rekey(ctx)
}

// MoveBaseURL records cfg.PublicBaseURL as the deployment's public URL, then subscribes every
// live instance that should be subscribed again on it, each with a new webhook token, so
// their old callback URLs stop working. It returns the URL it replaced ("" if none was
// recorded) and how many instances it moved. The URL is recorded first: from then on a
// process still running with the old one subscribes nothing (forwarding.Subscriber checks),
// and one started with the new one repairs what this leaves undone. Running it again
// completes a move that failed part way.
func MoveBaseURL(ctx context.Context, cfg Config, logger *slog.Logger) (previous string, moved int, err error) {
	keys, err := secret.NewKeyring(cfg.EncryptionKey, cfg.PreviousKeys...)
	if err != nil {
		return "", 0, err
	}
	salesClient, err := sales.New(cfg.ZenviaAPIURL)
	if err != nil {
		return "", 0, fmt.Errorf("ZENVIA_API_URL: %w", err)
	}
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return "", 0, err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if previous, err = db.SetPublicBaseURL(ctx, cfg.PublicBaseURL); err != nil {
		return "", 0, fmt.Errorf("%s: %w", storeVariable(cfg), err)
	}
	subscriber := forwarding.NewSubscriber(salesClient, store.NewInstances(db, keys), cfg.PublicBaseURL, logger)
	subscriber.SetDeployment(db)
	if moved, err = subscriber.MoveAll(ctx); err != nil {
		return previous, moved, fmt.Errorf("PUBLIC_BASE_URL is now %s and %d instances moved, but %w; run it again", cfg.PublicBaseURL, moved, err)
	}
	return previous, moved, nil
}

// openStore opens the store cfg names. What goes wrong names the variable at fault and says
// what is wrong with it, as the one line the process stops with.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, store.Config{URI: cfg.MongoURI, Database: cfg.MongoDatabase, DataDir: cfg.DataDir, Logger: logger, Monitor: cfg.Bench.StoreMonitor})
	if err == nil {
		return db, nil
	}
	if dirErr := (*store.DirError)(nil); errors.As(err, &dirErr) {
		return nil, fmt.Errorf("DATA_DIR %w", err) // "DATA_DIR /data is not writable: …"
	}
	if cfg.MongoURI != "" {
		// The URI itself is not repeated: it may carry a password.
		return nil, fmt.Errorf("MONGODB_URI: the database cannot be reached or used: %w", err)
	}
	return nil, fmt.Errorf("DATA_DIR %s: the embedded store does not work: %w", cfg.DataDir, err)
}

// storeVariable names the variable that chose the store, for errors of the store at start.
func storeVariable(cfg Config) string {
	if cfg.MongoURI != "" {
		return "MONGODB_URI"
	}
	return "DATA_DIR " + cfg.DataDir
}

// claimPublicBaseURL records cfg.PublicBaseURL as the deployment's if none is, and refuses to
// start on another one: every instance's webhooks point at the recorded URL, and this
// process's subscription repair would move them all to its own.
func claimPublicBaseURL(ctx context.Context, cfg Config, db *store.DB) error {
	recorded, err := db.ClaimPublicBaseURL(ctx, cfg.PublicBaseURL)
	if err != nil {
		return fmt.Errorf("%s: %w", storeVariable(cfg), err)
	}
	if recorded != cfg.PublicBaseURL {
		return fmt.Errorf("PUBLIC_BASE_URL: is %s, but this deployment's webhooks point at %s (recorded in its database); "+
			"start with PUBLIC_BASE_URL=%s, or move every subscription to the new URL with `server move-base-url`",
			cfg.PublicBaseURL, recorded, recorded)
	}
	return nil
}

// The adapters implement the interfaces the features consume; the store imports none of the
// feature packages, so these checks live here, where both meet.
var (
	_ lifecycle.Store              = (*store.Instances)(nil)
	_ lifecycle.Subscriptions      = (*forwarding.Subscriber)(nil)
	_ forwarding.Store             = (*store.Outbox)(nil)
	_ forwarding.Instances         = (*store.Instances)(nil)
	_ forwarding.SubscriptionStore = (*store.Instances)(nil)
	_ forwarding.WebhookTargets    = (*store.Instances)(nil)
	_ forwarding.Deployment        = (*store.DB)(nil)
	_ forwarding.BackfillStore     = (*store.Backfills)(nil)
	_ forwarding.ProspectLister    = (*sales.Client)(nil)
	_ lifecycle.Backfills          = (*forwarding.Backfiller)(nil)
	_ forwarding.ChatTonicStore    = (*store.ChatTonicSources)(nil)
	_ forwarding.ChatTonicReader   = (*chattonic.Client)(nil)
	_ forwarding.LiveInstances     = (*store.Instances)(nil)
	_ forwarding.RetailLeads       = (*sales.Client)(nil)
	_ app.Readiness                = (*store.DB)(nil)
	_ extensions.Store             = (*store.Pages)(nil)
	_ extensions.Instances         = (*store.Instances)(nil)
	_ extensions.Outbox            = (*store.Outbox)(nil)
	_ extensions.Queue             = (*forwarding.Intake)(nil)
	_ extensions.GroupTrees        = (*lifecycle.Service)(nil)
)
