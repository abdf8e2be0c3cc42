package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/bridge"
	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/directory"
	"github.com/mssbridge/mssbridge/web"
	"github.com/mssbridge/mssbridge/web/account"
)

// webTLSFiles are where the desk looks for its TLS certificate and key (PEM) until the
// configuration has keys for them: data_dir/web/tls.crt and data_dir/web/tls.key. With both
// present the desk serves HTTPS and may listen on a non-loopback address.
func webTLSFiles(cfg *config.Config) (cert, key string) {
	if cfg.Web.TLSCertFile != "" {
		return cfg.Web.TLSCertFile, cfg.Web.TLSKeyFile
	}
	cert, key = filepath.Join(cfg.DataDir, "web", "tls.crt"), filepath.Join(cfg.DataDir, "web", "tls.key")
	_, errC := os.Stat(cert)
	_, errK := os.Stat(key)
	if errC != nil || errK != nil {
		return "", ""
	}
	return cert, key
}

// startWeb starts the review desk when web.listen is set. It returns at once; the server stops
// with ctx.
func startWeb(ctx context.Context, cfg *config.Config, b *bridge.Bridge, log *slog.Logger) error {
	if cfg.Web.Listen == "" {
		return nil
	}
	cert, key := webTLSFiles(cfg)
	if err := web.CheckListen(cfg.Web.Listen, cert != ""); err != nil {
		return configError{fmt.Errorf("%w (put a certificate and its key in %s)", err, filepath.Join(cfg.DataDir, "web", "tls.crt|tls.key"))}
	}
	dlog := log.With("component", "desk")
	var dir web.Directory
	if cfg.Directory.File != "" {
		// The index the reader built (newReader): opening it again is cheap.
		ix, err := directory.Open(ctx, cfg.Directory.File, filepath.Join(cfg.DataDir, "cache", "directory"))
		if err != nil {
			dlog.Warn("review desk without the directory search", "err", err)
		} else {
			dir = ix
			context.AfterFunc(ctx, func() { ix.Close() })
		}
	}
	var fixed []account.User
	for _, u := range cfg.Web.Users {
		fixed = append(fixed, account.User{Login: u.Login, Hash: u.Hash})
	}
	srv, err := web.New(web.Options{Config: cfg, Bridge: b, Directory: dir, Logger: dlog, FixedUsers: fixed,
		SessionIdle: cfg.Web.SessionIdle, SessionMax: cfg.Web.SessionMax})
	if err != nil {
		return err
	}
	if _, err := srv.Serve(ctx, web.ListenOptions{Addr: cfg.Web.Listen, CertFile: cert, KeyFile: key}); err != nil {
		return err
	}
	if users, err := account.Open(filepath.Join(cfg.DataDir, account.FileName)).Users(); err == nil && len(users) == 0 {
		dlog.Warn("the review desk has no account yet: create one with `mssbridge user add LOGIN -c " + cfg.Path + "`")
	}
	return nil
}

// cmdUser manages the review desk's local accounts (data_dir/web-users.json, mode 0600).
func cmdUser(ctx context.Context, e env, args []string) error {
	fs := newFlags("user", e)
	cfgPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: mssbridge user add|passwd|remove LOGIN [-c FILE]\n       mssbridge user list [-c FILE]")
		fmt.Fprintln(e.stderr, "\nadd and passwd ask for the password on the terminal (twice, not echoed), or read one line from standard input.")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError{err.Error()}
	}
	if len(pos) == 0 {
		fs.Usage()
		return usagef("user: give add, passwd, remove or list")
	}
	verb := pos[0]
	var login string
	switch verb {
	case "list":
		if len(pos) != 1 {
			return usagef("user list takes no argument")
		}
	case "add", "passwd", "remove":
		if len(pos) != 2 {
			return usagef("user %s: give one LOGIN", verb)
		}
		login = account.NormalizeLogin(pos[1])
		if err := account.ValidLogin(login); err != nil {
			return usageError{"user " + verb + ": " + err.Error()}
		}
	default:
		return usagef("user: unknown action %q (add, passwd, remove, list)", verb)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	accounts := account.Open(filepath.Join(cfg.DataDir, account.FileName))
	now := time.Now()
	switch verb {
	case "list":
		users, err := accounts.Users()
		if err != nil {
			return err
		}
		if len(users) == 0 {
			fmt.Fprintf(e.stdout, "no account in %s\n", accounts.Path())
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LOGIN\tCREATED\tPASSWORD CHANGED")
		for _, u := range users {
			changed := "-"
			if !u.Changed.IsZero() {
				changed = u.Changed.Local().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Login, u.Created.Local().Format("2006-01-02 15:04"), changed)
		}
		return tw.Flush()
	case "remove":
		if err := accounts.Remove(login); err != nil {
			return accountError(err)
		}
		journalAccount(ctx, cfg, "desk_user_removed", login)
		fmt.Fprintf(e.stdout, "account %s removed; its open sessions end at their next request\n", login)
		return nil
	}
	if verb == "add" {
		if _, found, err := accounts.Lookup(login); err != nil {
			return err
		} else if found {
			return accountError(fmt.Errorf("%s: %w (use `mssbridge user passwd %s` to change its password)", login, account.ErrExists, login))
		}
	}
	pw, err := account.ReadPassword(os.Stdin, e.stderr, fmt.Sprintf("Mot de passe pour %s (au moins %d caractères) : ", login, account.MinPasswordLength), true)
	if err != nil {
		return err
	}
	if err := account.ValidPassword(pw); err != nil {
		return usageError{err.Error()}
	}
	if verb == "add" {
		if err := accounts.Add(login, pw, now); err != nil {
			return accountError(err)
		}
		journalAccount(ctx, cfg, "desk_user_added", login)
		fmt.Fprintf(e.stdout, "account %s created in %s\n", login, accounts.Path())
		if cfg.Web.Listen == "" {
			fmt.Fprintln(e.stdout, "note: web.listen is not set in the configuration, so the review desk is not started")
		}
		return nil
	}
	if err := accounts.SetPassword(login, pw, now); err != nil {
		return accountError(err)
	}
	journalAccount(ctx, cfg, "desk_password_changed", login)
	fmt.Fprintf(e.stdout, "password of %s changed\n", login)
	return nil
}

func accountError(err error) error {
	if errors.Is(err, account.ErrExists) || errors.Is(err, account.ErrNotFound) {
		return usageError{"user: " + err.Error()}
	}
	return err
}

// journalAccount records an account change in the audit journal, with who made it.
func journalAccount(ctx context.Context, cfg *config.Config, event, login string) {
	j, err := audit.Open(filepath.Join(cfg.DataDir, "audit", "journal.jsonl"))
	if err != nil {
		return
	}
	defer j.Close()
	j.Append(ctx, audit.Entry{Event: event, Actor: currentUser(), Detail: map[string]string{"login": login}})
}
