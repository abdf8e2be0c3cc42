package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/pdf"
	"github.com/mssbridge/mssbridge/reading"
	"github.com/mssbridge/mssbridge/trust"
)

// configError makes main exit 2, as the contract wants for configuration problems.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// configFlag registers -c with the contract's default.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("c", "", "configuration file (default: mssbridge.yaml here, then "+systemConfigPath()+")")
}

func systemConfigPath() string {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "mssbridge", "mssbridge.yaml")
	case "darwin":
		return "/Library/Application Support/mssbridge/mssbridge.yaml"
	default:
		return "/etc/mssbridge/mssbridge.yaml"
	}
}

func resolveConfigPath(p string) string {
	if p != "" {
		return p
	}
	if _, err := os.Stat("mssbridge.yaml"); err == nil {
		return "mssbridge.yaml"
	}
	return systemConfigPath()
}

func loadConfig(p string) (*config.Config, error) {
	path := resolveConfigPath(p)
	cfg, err := config.Load(path)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) || errors.Is(err, os.ErrNotExist) {
			return nil, configError{err}
		}
		return nil, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// newReader builds the PDF reader with its wasm pool (the compilation cache lives in data_dir so
// a restart is fast), the directory index when one is configured, and the boxes' own addresses,
// which are the author of a letter and never its recipient.
func newReader(ctx context.Context, cfg *config.Config, sp *trust.Space) (*reading.Reader, func(), error) {
	cache := ""
	if cfg.DataDir != "" {
		cache = filepath.Join(cfg.DataDir, "cache", "wasm")
	} else if d, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(d, "mssbridge", "wasm")
	}
	if cache != "" {
		compilePDFiumApart(ctx, cache)
	}
	ex, err := pdf.NewExtractor(ctx, pdf.ExtractorOptions{CacheDir: cache, Workers: 2})
	if err != nil {
		return nil, nil, fmt.Errorf("start PDF reader: %w", err)
	}
	closers := []func(){func() { ex.Close() }}
	cleanup := func() {
		for _, c := range closers {
			c()
		}
	}
	var opts []reading.Option
	if cfg.Directory.File != "" {
		indexDir := filepath.Join(filepath.Dir(cache), "directory")
		ix, err := directory.Open(ctx, cfg.Directory.File, indexDir)
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("directory %s: %w", cfg.Directory.File, err)
		}
		closers = append(closers, func() { ix.Close() })
		opts = append(opts, reading.WithDirectory(reading.FromIndex(ix)))
	}
	var own []string
	for _, b := range cfg.Boxes {
		own = append(own, b.Address)
		if b.ReplyTo != "" {
			own = append(own, b.ReplyTo)
		}
	}
	opts = append(opts, reading.WithOwnAddresses(own...))
	return reading.NewReader(ex, sp, opts...), cleanup, nil
}

// openBridge opens the store and journal of cfg, with the reader when withReader is set (the
// commands that only look at the store do not pay for the wasm start).
func openBridge(ctx context.Context, cfg *config.Config, logger *slog.Logger, withReader bool) (*bridge.Bridge, func(), error) {
	o := bridge.Options{Config: cfg, Logger: logger}
	cleanup := func() {}
	if withReader {
		sp, err := trust.Load(cfg.Trust.DomainsFile)
		if err != nil {
			return nil, nil, configError{err}
		}
		r, closeReader, err := newReader(ctx, cfg, sp)
		if err != nil {
			return nil, nil, err
		}
		o.Reader = r
		cleanup = closeReader
	}
	b, err := bridge.Open(ctx, o)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return b, func() { b.Close(); cleanup() }, nil
}

func currentUser() string {
	for _, k := range []string{"SUDO_USER", "USER", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return "cli:" + v
		}
	}
	return "cli"
}

// compilePDFiumCmd is the hidden command compilePDFiumApart runs.
const compilePDFiumCmd = "internal-compile-pdfium"

// compilePDFiumApart makes sure the compilation cache holds this build's PDFium, from a
// short-lived process of this program. Compiling PDFium takes 310 to 340 MB at its peak, and a
// Go process keeps much of what it once held: a service that compiled it itself stayed at 170
// MB at rest; one that loads the cache starts at 65 to 90 MB. The child runs at every start,
// not only on an empty cache: after an upgrade, or a compilation killed half way, the files
// there are not this build's, and the child is cheap when they are (it loads them and exits).
// When the child cannot run, the caller compiles in process as before.
func compilePDFiumApart(ctx context.Context, cache string) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, compilePDFiumCmd, cache)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	_ = cmd.Run()
}

// cmdCompilePDFium compiles PDFium into the cache folder given as its one argument.
func cmdCompilePDFium(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usagef("%s CACHE_DIR", compilePDFiumCmd)
	}
	ex, err := pdf.NewExtractor(ctx, pdf.ExtractorOptions{CacheDir: args[0], Workers: 1})
	if err != nil {
		return err
	}
	return ex.Close()
}
