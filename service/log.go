package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kardianos/service"
)

type sysLogKey struct{}

// SystemLog is a writer to the service manager's own log (the Windows Event Log) for a process
// that Run started, or nil: under systemd and launchd, stderr already goes to the journal or
// the service's log file. Each line written is one entry; a slog text line's level=WARN or
// level=ERROR sets the entry's type.
func SystemLog(ctx context.Context) io.Writer {
	l, ok := ctx.Value(sysLogKey{}).(service.Logger)
	if !ok {
		return nil
	}
	return &sysLogWriter{l: l}
}

type sysLogWriter struct {
	mu  sync.Mutex
	l   service.Logger
	buf []byte
}

func (w *sysLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		switch {
		case strings.Contains(line, "level=ERROR"):
			_ = w.l.Error(line)
		case strings.Contains(line, "level=WARN"):
			_ = w.l.Warning(line)
		default:
			_ = w.l.Info(line)
		}
	}
	return len(p), nil
}

// Log file rotation defaults: 10 MB a file and 5 old files keep weeks of a busy bridge's
// info lines in 60 MB.
const (
	DefaultLogMaxSize = 10 << 20
	DefaultLogKeep    = 5
)

// RotatingFile is a log file that, past MaxSize, is renamed FILE.1 (FILE.1 to FILE.2, …, the
// oldest beyond Keep removed) and started afresh. Files are 0600.
type RotatingFile struct {
	path    string
	maxSize int64
	keep    int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLogFile opens (appends to) path, creating its folder 0700 when missing.
func OpenLogFile(path string, maxSize int64, keep int) (*RotatingFile, error) {
	if maxSize <= 0 {
		maxSize = DefaultLogMaxSize
	}
	if keep <= 0 {
		keep = DefaultLogKeep
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its size. A rotation that
// fails (a full disk) keeps writing to the current file rather than losing lines.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		_ = r.rotate()
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	r.f = nil
	_ = os.Remove(fmt.Sprintf("%s.%d", r.path, r.keep))
	for i := r.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	// On Windows a rename fails while another program holds the file open; the next write
	// then goes on in the same file.
	renameErr := os.Rename(r.path, r.path+".1")
	if err := r.open(); err != nil {
		return err
	}
	return renameErr
}

// Close closes the file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
