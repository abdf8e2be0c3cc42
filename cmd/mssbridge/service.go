package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/service"
)

// defaultServiceUser is the dedicated account: on Linux a system user made at install; on
// Windows and macOS the service manager's default (LocalSystem, root) unless --user is given.
func defaultServiceUser() string {
	if runtime.GOOS == "linux" {
		return "mssbridge"
	}
	return ""
}

func serviceOptions(cfgPath string, cfg *config.Config) service.Options {
	o := service.Options{ConfigPath: cfgPath}
	if cfg != nil {
		o.WritePaths = append(o.WritePaths, cfg.DataDir)
		for _, in := range cfg.Inputs {
			o.WritePaths = append(o.WritePaths, in.Path)
		}
		for _, p := range []string{cfg.Import.Path, cfg.Import.Quarantine} {
			if p != "" {
				o.WritePaths = append(o.WritePaths, p)
			}
		}
		if cfg.Log.File != "" {
			o.WritePaths = append(o.WritePaths, filepath.Dir(cfg.Log.File))
		}
		for i, p := range o.WritePaths {
			if abs, err := filepath.Abs(p); err == nil {
				o.WritePaths[i] = abs
			}
		}
	}
	return o
}

// serviceAccount is what the dedicated account needs from this configuration.
func serviceAccount(user, cfgPath string, cfg *config.Config) service.Account {
	a := service.Account{User: user, Home: cfg.DataDir, Own: []string{cfg.DataDir}, Read: []string{cfgPath}}
	if cfg.Log.File != "" {
		a.Own = append(a.Own, filepath.Dir(cfg.Log.File))
	}
	for _, in := range cfg.Inputs {
		a.Write = append(a.Write, in.Path)
	}
	for _, p := range []string{cfg.Import.Path, cfg.Import.Quarantine} {
		if p != "" {
			a.Write = append(a.Write, p)
		}
	}
	read := func(ps ...string) {
		for _, p := range ps {
			if p != "" {
				a.Read = append(a.Read, p)
			}
		}
	}
	for _, b := range cfg.Boxes {
		read(b.SMTP.CAFile, b.SMTP.CertFile, b.SMTP.KeyFile, b.SMTP.PasswordFile)
		if b.IMAP != nil {
			read(b.IMAP.CAFile, b.IMAP.CertFile, b.IMAP.KeyFile, b.IMAP.PasswordFile)
		}
	}
	read(cfg.Trust.DomainsFile, cfg.Directory.File)
	return a
}

// runAsService is what the Windows service manager starts: the log goes to the Event Log, and
// to log.file (rotated by size) when it is set.
func runAsService(cfgPath string) error {
	return service.Run(serviceOptions(cfgPath, nil), func(ctx context.Context) error {
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return err
		}
		var out []io.Writer
		if w := service.SystemLog(ctx); w != nil {
			out = append(out, w)
		} else {
			out = append(out, os.Stderr)
		}
		if cfg.Log.File != "" {
			f, err := service.OpenLogFile(cfg.Log.File, 0, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			out = append(out, f)
		}
		return runBridge(ctx, cfg, newLogger(io.MultiWriter(out...), cfg.Log.Level), nil)
	})
}

const serviceUsage = "usage: mssbridge service install|uninstall|start|stop|status -c FILE [--user NAME] [--password-file FILE] [--dry-run]"

func cmdService(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("service: %s", serviceUsage)
	}
	action := args[0]
	fs := newFlags("service "+action, e)
	cfgPath := configFlag(fs)
	var user, passwordFile *string
	var dry *bool
	if action == "install" {
		user = fs.String("user", defaultServiceUser(), `the account the service runs as (Linux: a system user, created when missing; Windows: ".\name", "DOMAIN\name" or "NT AUTHORITY\LocalService"; "" for the manager's default)`)
		passwordFile = fs.String("password-file", "", "Windows: a file holding the account's password")
		dry = fs.Bool("dry-run", false, "show the systemd unit (Linux) and what would be done, change nothing")
	}
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return usageError{err.Error()}
	}
	path, err := filepath.Abs(resolveConfigPath(*cfgPath))
	if err != nil {
		return err
	}
	switch action {
	case "install":
		cfg, err := loadConfig(path)
		if err != nil {
			return err
		}
		o := serviceOptions(path, cfg)
		o.User = *user
		o.ReadPaths = serviceAccount(o.User, path, cfg).Read
		if *passwordFile != "" {
			pw, err := os.ReadFile(*passwordFile)
			if err != nil {
				return usagef("service install: %v", err)
			}
			o.Password = strings.TrimRight(string(pw), "\r\n")
		}
		if *dry {
			if runtime.GOOS == "linux" {
				unit, err := service.SystemdUnit(o)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "# /etc/systemd/system/%s.service\n%s\n", service.Name, unit)
			}
			a := serviceAccount(o.User, path, cfg)
			fmt.Fprintf(e.stdout, "# account %q; own folders %v; shared folders %v; files to read %v\n", a.User, a.Own, a.Write, a.Read)
			return nil
		}
		notes, err := service.PrepareAccount(serviceAccount(o.User, path, cfg))
		for _, n := range notes {
			fmt.Fprintln(e.stdout, n)
		}
		if err != nil {
			return fmt.Errorf("service install: %w", err)
		}
		if err := service.Control(o, action); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "service install: done (runs as %s)\n", orDefault(o.User, "the service manager's default account"))
		return nil
	case "uninstall", "start", "stop":
		if err := service.Control(serviceOptions(path, nil), action); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "service %s: done\n", action)
		return nil
	case "status":
		st, err := service.Status(serviceOptions(path, nil))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "service %s: %s\n", service.Name, st)
		return nil
	default:
		return usagef("service: unknown action %q (install, uninstall, start, stop, status)", action)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
