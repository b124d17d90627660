package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/cmd/internal/appserver"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/store"
)

// The child process's configuration, set by the driver.
const (
	envPort     = "LOADGEN_PORT"
	envDataDir  = "LOADGEN_DATA_DIR"
	envSalesURL = "LOADGEN_SALES_URL"
	envSTAPI    = "LOADGEN_7TARGETS_API_URL"
	envSTToken  = "LOADGEN_7TARGETS_TOKEN_URL"
	envCTAPI    = "LOADGEN_CHATTONIC_API_URL"
	envKey      = "LOADGEN_ENCRYPTION_KEY"
	envNoWorker = "LOADGEN_NO_WORKER"
	envNoCache  = "LOADGEN_NO_TARGET_CACHE"
	envPprof    = "LOADGEN_PPROF_ADDR"

	benchDatabase = "bench"
	appID         = "loadgen-app"
	appSecret     = "loadgen-app-secret"
	signingKey    = "loadgen-signing-key"

	// baselinePath is the naive handler: one durable insert per webhook, nothing else.
	baselinePath = "/bench/baseline/"
	// commandsPath serves the counts of the App's store commands, on the pprof listener.
	commandsPath = "/debug/store-commands"
	// baselineCollection holds what the baseline inserts.
	baselineCollection = "bench_baseline"
)

// commandCount is one line of commandsPath.
type commandCount struct {
	store.CommandKey
	N int64 `json:"n"`
}

// benchLimits lifts the per-instance webhook limit (100/s by default) so the run measures the
// intake, not the limiter; pages likewise. Everything else is the App as deployed.
var benchLimits = app.Limits{
	Webhook: app.Limit{Rate: 1e6, Burst: 1e6},
	Page:    app.Limit{Rate: 1e6, Burst: 1e6},
}

// runApp is the child process: the App exactly as cmd/server wires it, plus the baseline route
// and a pprof listener on loopback.
func runApp() error {
	port, err := strconv.Atoi(os.Getenv(envPort))
	if err != nil {
		return fmt.Errorf("%s: %w", envPort, err)
	}
	key, err := secret.ParseKey(os.Getenv(envKey))
	if err != nil {
		return fmt.Errorf("%s: %w", envKey, err)
	}
	dir := os.Getenv(envDataDir)
	logFile, err := os.Create(dir + "/app.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	// The App logs every request as it does in production, to a file instead of stdout.
	logger := slog.New(app.LogHandler(slog.NewJSONHandler(logFile, nil)))

	// Every command the App sends to its store is counted, and read by the driver at
	// commandsPath, beside the profiles: on MongoDB each is a network round trip.
	commands := store.NewCommandCounter(benchDatabase)
	if addr := os.Getenv(envPprof); addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc(commandsPath, func(w http.ResponseWriter, _ *http.Request) {
			var out []commandCount
			for k, n := range commands.Counts() {
				out = append(out, commandCount{CommandKey: k, N: n})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("pprof: %w", err)
		}
		go func() { _ = http.Serve(ln, mux) }()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := make(chan string, 1)
	go func() {
		addr := <-ready
		fmt.Fprintln(os.Stdout, "ready", addr)
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	return appserver.Run(ctx, appserver.Config{
		Port: port, PublicBaseURL: base, MongoDatabase: benchDatabase, DataDir: dir,
		AppID: appID, AppSecret: appSecret, SigningKey: signingKey,
		ZenviaAPIURL: os.Getenv(envSalesURL), SevenTargetsAPIURL: os.Getenv(envSTAPI), SevenTargetsTokenURL: os.Getenv(envSTToken),
		ChatTonicAPIURL: os.Getenv(envCTAPI),
		EncryptionKey:   key, FrameAncestors: "'self'", LogValue: slog.StringValue("loadgen"),
		Bench: appserver.Bench{
			Mount: mountBaseline, Limits: benchLimits,
			NoWorker: os.Getenv(envNoWorker) == "1", NoTargetCache: os.Getenv(envNoCache) == "1",
			StoreMonitor: commands.Monitor(),
		},
	}, logger, ready)
}

// mountBaseline serves the naive design on the App's router: read the body, insert it as one
// document, answer once the insert is acknowledged.
func mountBaseline(r gin.IRouter, db *store.DB) {
	col := db.Collection(baselineCollection)
	r.POST(baselinePath+":instanceId", func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		_, err = col.InsertOne(c.Request.Context(), bson.D{
			{Key: "_id", Value: bson.NewObjectID()},
			{Key: "instanceId", Value: c.Param("instanceId")},
			{Key: "body", Value: string(body)},
			{Key: "receivedAt", Value: time.Now()},
		})
		if err != nil {
			c.Header("Retry-After", "5")
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.JSON(http.StatusOK, gin.H{"received": 1})
	})
}

// stopGracefully is how the driver ends the child: SIGTERM, then a kill if it hangs.
func stopGracefully(ctx context.Context, p *os.Process, done <-chan error) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.Kill()
		<-done
	case <-ctx.Done():
		_ = p.Kill()
		<-done
	}
}
