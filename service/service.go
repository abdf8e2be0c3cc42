// Package service runs mssbridge under the operating system's service manager (Windows
// service, systemd, launchd) through kardianos/service, with mssbridge's own hardened
// systemd unit, restart-on-failure everywhere, a dedicated account, logs to the service
// manager (journald through stderr, the Windows Event Log, launchd's log files) and an
// optional log file rotated by size.
package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/kardianos/service"

	"github.com/mssbridge/mssbridge/installer"
)

// Name is the service's name for every service manager.
const Name = "mssbridge"

const (
	displayName = "mssbridge (passerelle MSSanté)"
	description = "Envoie vers MSSanté les documents imprimés ou déposés par le logiciel métier."
)

// RunFunc runs the bridge until ctx ends.
type RunFunc func(ctx context.Context) error

type program struct {
	run    RunFunc
	cancel context.CancelFunc
	done   chan error
}

func (p *program) Start(s service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	if !service.Interactive() {
		if l, err := s.Logger(nil); err == nil {
			ctx = context.WithValue(ctx, sysLogKey{}, l)
		}
	}
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
	User       string   // dedicated account ("" = the manager's default: root, LocalSystem)
	Password   string   // Windows: the account's password ("" for a built-in or managed account)
	WritePaths []string // data_dir, inputs, import, log folder: the only places systemd lets it write
	ReadPaths  []string // configuration, certificates, keys: kept visible to the service
}

func newService(o Options, run RunFunc) (service.Service, error) {
	cfg := &service.Config{
		Name:        Name,
		DisplayName: displayName,
		Description: description,
		Arguments:   []string{"run", "-c", o.ConfigPath},
		UserName:    o.User,
		Option: service.KeyValue{
			// Windows recovery actions: restart after 10 s on every failure, the failure count
			// reset after a day; start once the network is up (delayed automatic start).
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "10s",
			"OnFailureResetPeriod":   86400,
			"DelayedAutoStart":       true,
			"KeepAlive":              true, // launchd
			"RunAtLoad":              true,
			"LogOutput":              true, // launchd: stdout and stderr to /var/log/mssbridge.*.log
		},
	}
	if o.Password != "" {
		cfg.Option["Password"] = o.Password
	}
	if runtime.GOOS == "linux" && len(o.WritePaths) > 0 {
		unit, err := SystemdUnit(o)
		if err != nil {
			return nil, err
		}
		cfg.Option["SystemdScript"] = unit
	}
	return service.New(&program{run: run}, cfg)
}

// SystemdUnit is the unit "service install" writes for these options.
func SystemdUnit(o Options) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return installer.RenderSystemdUnit(installer.Unit{
		Description: displayName, Exec: exe, Args: []string{"run", "-c", o.ConfigPath},
		User: o.User, ReadWritePaths: o.WritePaths, ReadPaths: append([]string{o.ConfigPath}, o.ReadPaths...),
	})
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
// Inside run, SystemLog(ctx) is the service manager's log.
func Run(o Options, run RunFunc) error {
	s, err := newService(o, run)
	if err != nil {
		return err
	}
	return s.Run()
}
