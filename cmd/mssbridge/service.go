package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mssbridge/mssbridge/config"
	"github.com/mssbridge/mssbridge/service"
)

func serviceOptions(cfgPath string, cfg *config.Config) service.Options {
	o := service.Options{ConfigPath: cfgPath}
	if cfg != nil {
		o.WritePaths = append(o.WritePaths, cfg.DataDir)
		for _, in := range cfg.Inputs {
			o.WritePaths = append(o.WritePaths, in.Path)
		}
		if cfg.Import.Path != "" {
			o.WritePaths = append(o.WritePaths, cfg.Import.Path)
		}
	}
	return o
}

// runAsService is what the OS service manager starts.
func runAsService(cfgPath string) error {
	return service.Run(serviceOptions(cfgPath, nil), func(ctx context.Context) error {
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			return err
		}
		logOut, closeLog, err := logWriter(cfg, os.Stderr)
		if err != nil {
			return err
		}
		defer closeLog()
		return runBridge(ctx, cfg, newLogger(logOut, cfg.Log.Level), nil)
	})
}

func cmdService(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("service: usage: mssbridge service install|uninstall|start|stop|status -c FILE")
	}
	action := args[0]
	fs := newFlags("service "+action, e)
	cfgPath := configFlag(fs)
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return usageError{err.Error()}
	}
	path, err := filepath.Abs(resolveConfigPath(*cfgPath))
	if err != nil {
		return err
	}
	var cfg *config.Config
	if action == "install" {
		if cfg, err = loadConfig(path); err != nil {
			return err
		}
	}
	switch action {
	case "install", "uninstall", "start", "stop":
		if err := service.Control(serviceOptions(path, cfg), action); err != nil {
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
