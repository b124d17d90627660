// Command server is the production backend of the Zenvia Sales App that hands sales leads to
// 7Targets. It reads its configuration from the environment (see README.md), serves the
// lifecycle hooks, webhooks and embedded pages, and stops cleanly on SIGTERM. `server rekey`
// and `server move-base-url` are one-off commands on the same configuration (see
// docs/operations.md).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/cmd/internal/appserver"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var command string
	if len(os.Args) > 1 {
		command = os.Args[1]
	}
	var err error
	switch command {
	case "rekey":
		err = rekey(ctx, os.Getenv, os.Stdout, os.Stderr)
	case "move-base-url":
		err = moveBaseURL(ctx, os.Getenv, os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Getenv, os.Stdout, os.Stderr, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run reads the configuration from getenv and runs the App until ctx ends (see appserver.Run).
// ready, if not nil, receives the listening address once the App serves.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, logger, err := setUp(getenv, stdout, stderr)
	if err != nil {
		return err
	}
	return appserver.Run(ctx, appConfig(cfg), logger, ready)
}

// rekey is `server rekey`: after ENCRYPTION_KEY was changed (the old key moved to
// ENCRYPTION_KEY_PREVIOUS), it seals every stored secret with the new key and says how many
// instances it rewrote. Once it reports 0, the old key can leave the configuration.
func rekey(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, logger, err := setUp(getenv, stdout, stderr)
	if err != nil {
		return err
	}
	n, err := appserver.Rekey(ctx, appConfig(cfg), logger)
	if err != nil {
		return fmt.Errorf("rekey: %w", err)
	}
	fmt.Fprintf(stdout, "rekey: %d instances sealed again with the current key\n", n)
	return nil
}

// moveBaseURL is `server move-base-url`: run with the new PUBLIC_BASE_URL (and the rest of the
// deployment's configuration), it records that URL in the database and subscribes every
// instance again there, then says what it did. Until it has run, a process with another URL
// than the recorded one refuses to start.
func moveBaseURL(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, logger, err := setUp(getenv, stdout, stderr)
	if err != nil {
		return err
	}
	previous, moved, err := appserver.MoveBaseURL(ctx, appConfig(cfg), logger)
	if err != nil {
		return fmt.Errorf("move-base-url: %w", err)
	}
	was := "none was recorded"
	if previous != "" {
		was = "was " + previous
	}
	fmt.Fprintf(stdout, "move-base-url: PUBLIC_BASE_URL is now %s (%s); %s subscribed again there\n", cfg.PublicBaseURL, was, instances(moved))
	return nil
}

func instances(n int) string {
	if n == 1 {
		return "1 instance"
	}
	return strconv.Itoa(n) + " instances"
}

// setUp reads the configuration, completes it for a development run, and makes the logger.
func setUp(getenv func(string) string, stdout, stderr io.Writer) (config, *slog.Logger, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return config{}, nil, err
	}
	if err := ensureLocalSecrets(&cfg, stdout); err != nil {
		return config{}, nil, err
	}
	return cfg, slog.New(app.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))), nil
}

func appConfig(cfg config) appserver.Config {
	host := "" // production: every interface, behind the load balancer
	if cfg.DevMode {
		host = "127.0.0.1" // its generated credentials were printed: this machine only
	}
	return appserver.Config{
		Host: host, Port: cfg.Port, PublicBaseURL: cfg.PublicBaseURL, MongoURI: cfg.MongoURI, MongoDatabase: cfg.MongoDatabase,
		DataDir: cfg.DataDir, AppID: cfg.AppID, AppSecret: cfg.AppSecret, SigningKey: cfg.SigningKey,
		ZenviaAPIURL: cfg.ZenviaAPIURL, SevenTargetsAPIURL: cfg.SevenTargetsAPIURL, SevenTargetsTokenURL: cfg.SevenTargetsTokenURL,
		ChatTonicAPIURL: cfg.ChatTonicAPIURL, ChatTonic: forwarding.ChatTonicConfig{Interval: cfg.ChatTonicPollInterval},
		EncryptionKey: cfg.EncryptionKey, PreviousKeys: cfg.PreviousKeys, FrameAncestors: cfg.FrameAncestors,
		TrustedProxies: cfg.TrustedProxies, DevMode: cfg.DevMode, LogValue: cfg.LogValue(),
	}
}
