// Package service runs mssbridge under the operating system's service manager (Windows
// service, systemd, launchd) through kardianos/service, with mssbridge's own hardened
// systemd unit and restart-on-failure everywhere.
package service

import (
	"context"
	"fmt"

	"github.com/kardianos/service"

	"github.com/mssbridge/mssbridge/installer"
)

// Name is the service's name for every service manager.
const Name = "mssbridge"

// RunFunc runs the bridge until ctx ends.
type RunFunc func(ctx context.Context) error

type program struct {
	run    RunFunc
	cancel context.CancelFunc
	done   chan error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- p.run(ctx) }()
	return nil
}

func (p *program) Stop(service.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	return <-p.done
}

// Options describe the installed service.
type Options struct {
	ConfigPath string   // absolute
	User       string   // dedicated account ("" = the manager's default)
	WritePaths []string // data_dir, inputs, import: the only places systemd lets it write
}

func newService(o Options, run RunFunc) (service.Service, error) {
	cfg := &service.Config{
		Name:        Name,
		DisplayName: "mssbridge (passerelle MSSanté)",
		Description: "Envoie vers MSSanté les documents imprimés ou déposés par le logiciel métier.",
		Arguments:   []string{"run", "-c", o.ConfigPath},
		UserName:    o.User,
		Option: service.KeyValue{
			// Windows recovery actions: restart after 10 s on every failure.
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "10s",
			"OnFailureResetPeriod":   86400,
			"SystemdScript":          installer.SystemdUnit,
			"ReadWritePaths":         o.WritePaths,
			"KeepAlive":              true, // launchd
			"RunAtLoad":              true,
		},
	}
	return service.New(&program{run: run}, cfg)
}

// Control installs, uninstalls, starts or stops the service.
func Control(o Options, action string) error {
	s, err := newService(o, nil)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := service.Control(s, action); err != nil {
		return fmt.Errorf("service %s: %w", action, err)
	}
	return nil
}

// Status reports running, stopped or unknown.
func Status(o Options) (string, error) {
	s, err := newService(o, nil)
	if err != nil {
		return "", err
	}
	st, err := s.Status()
	if err != nil {
		return "", fmt.Errorf("service status: %w", err)
	}
	switch st {
	case service.StatusRunning:
		return "running", nil
	case service.StatusStopped:
		return "stopped", nil
	default:
		return "unknown", nil
	}
}

// UnderManager reports whether the process was started by a service manager that must be
// answered (the Windows SCM); elsewhere signals are enough.
func UnderManager() bool { return !service.Interactive() }

// Run hands the process to the service manager, which calls run and cancels it on stop.
func Run(o Options, run RunFunc) error {
	s, err := newService(o, run)
	if err != nil {
		return err
	}
	return s.Run()
}
