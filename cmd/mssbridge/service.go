package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kardianos/service"
)

// program adapts the bridge to kardianos/service: Start must not block, Stop cancels.
type program struct {
	cfgPath string
	cancel  context.CancelFunc
	done    chan error
}

func (p *program) Start(s service.Service) error {
	cfg, err := loadConfig(p.cfgPath)
	if err != nil {
		return err
	}
	logOut, closeLog, err := logWriter(cfg, os.Stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() {
		defer closeLog()
		p.done <- runBridge(ctx, cfg, newLogger(logOut, cfg.Log.Level), nil)
	}()
	return nil
}

func (p *program) Stop(s service.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	return <-p.done
}

func serviceConfig(cfgPath string) *service.Config {
	return &service.Config{
		Name:        "mssbridge",
		DisplayName: "mssbridge (passerelle MSSanté)",
		Description: "Sends documents printed or dropped by the clinical software to MSSanté, and deposits received ones.",
		Arguments:   []string{"run", "-c", cfgPath},
		Option: service.KeyValue{
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "10s",
			"Restart":                "on-failure",
		},
	}
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
	if action == "install" {
		if _, err := loadConfig(path); err != nil {
			return err
		}
	}
	s, err := service.New(&program{cfgPath: path}, serviceConfig(path))
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	switch action {
	case "install", "uninstall", "start", "stop":
		if err := service.Control(s, action); err != nil {
			return fmt.Errorf("service %s: %w", action, err)
		}
		fmt.Fprintf(e.stdout, "service %s: done\n", action)
		return nil
	case "status":
		st, err := s.Status()
		if err != nil {
			return fmt.Errorf("service status: %w", err)
		}
		names := map[service.Status]string{service.StatusRunning: "running", service.StatusStopped: "stopped", service.StatusUnknown: "unknown"}
		fmt.Fprintf(e.stdout, "service mssbridge: %s\n", names[st])
		return nil
	case "run":
		// What the service manager starts on Windows (kardianos dispatches there).
		return s.Run()
	default:
		return usagef("service: unknown action %q", action)
	}
}
