package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
)

// startWeb starts the review desk when web.listen is set. It returns at once; the server stops
// with ctx.
func startWeb(ctx context.Context, cfg *config.Config, b *bridge.Bridge, log *slog.Logger) error {
	return nil
}

func cmdUser(ctx context.Context, e env, args []string) error {
	return errors.New("user: not implemented yet")
}
