// Command server is the production backend of the Zenvia Sales App that hands sales leads to
// 7Targets. It reads its configuration from the environment (see README.md), serves the
// lifecycle hooks, webhooks and embedded pages, and stops cleanly on SIGTERM.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/cmd/internal/appserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run reads the configuration from getenv and runs the App until ctx ends (see appserver.Run).
// ready, if not nil, receives the listening address once the App serves.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := ensureLocalSecrets(&cfg, stdout); err != nil {
		return err
	}
	logger := slog.New(app.LogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))

	if cfg.DevMode {
		logger.Info("development mode: App credentials are in " + cfg.DataDir + "/" + localSecretsFile)
	}
	return appserver.Run(ctx, appserver.Config{
		Port: cfg.Port, PublicBaseURL: cfg.PublicBaseURL, MongoURI: cfg.MongoURI, MongoDatabase: cfg.MongoDatabase,
		DataDir: cfg.DataDir, AppID: cfg.AppID, AppSecret: cfg.AppSecret, SigningKey: cfg.SigningKey,
		ZenviaAPIURL: cfg.ZenviaAPIURL, SevenTargetsAPIURL: cfg.SevenTargetsAPIURL, SevenTargetsTokenURL: cfg.SevenTargetsTokenURL,
		EncryptionKey: cfg.EncryptionKey, FrameAncestors: cfg.FrameAncestors, DevMode: cfg.DevMode, LogValue: cfg.LogValue(),
	}, logger, ready)
}
