package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
)

// startPrinter starts the raw print listener when the configuration has one. It returns at once;
// the listener stops with ctx.
func startPrinter(ctx context.Context, cfg *config.Config, b *bridge.Bridge, log *slog.Logger) error {
	return nil
}

func cmdPrinter(ctx context.Context, e env, args []string) error {
	return errors.New("printer: not implemented yet")
}
