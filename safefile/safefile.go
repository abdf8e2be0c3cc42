// Package safefile writes and moves files so that a crash at any moment leaves either the old
// state or the new one, never half a file: temporary name in the destination folder, fsync,
// rename, fsync of the folder (restic's local backend is the model). Folders are created 0700
// and files 0600: they hold health data; on Windows, where modes mean nothing, the folders it
// creates get a DACL restricted to SYSTEM, the administrators and the service account.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// DirMode and FileMode are the permissions of everything mssbridge writes.
const (
	DirMode  os.FileMode = 0o700
	FileMode os.FileMode = 0o600
)

// MkdirAll creates dir with DirMode. On Windows the outermost folder it creates is also
// made private (see MakePrivate) and the ones below inherit that; a folder that already
// existed keeps its access rights, since it may belong to someone else (the import folder
// of the clinical software). If access cannot be restricted, the folders just created are
// removed again: a later call must not find one and take it as private.
func MkdirAll(dir string) error {
	if restrict == nil {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return fmt.Errorf("create folder %s: %w", dir, err)
		}
		return nil
	}
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	top := firstMissing(dir)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create folder %s: %w", dir, err)
	}
	if top == "" {
		return nil
	}
	if err := restrict(top); err != nil {
		removeUpTo(dir, top)
		return fmt.Errorf("create folder %s: restrict access: %w", dir, err)
	}
	return nil
}

// firstMissing returns the outermost folder on dir's path that does not exist, "" if dir
// exists.
func firstMissing(dir string) string {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return ""
	}
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		if _, err := os.Stat(parent); !errors.Is(err, os.ErrNotExist) {
			return dir
		}
		dir = parent
	}
}

// removeUpTo removes dir and its parents up to top, as long as they are empty.
func removeUpTo(dir, top string) {
	dir, top = filepath.Clean(dir), filepath.Clean(top)
	for {
		if os.Remove(dir) != nil || dir == top {
			return
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return
		}
		dir = parent
	}
}

var tmpSeq atomic.Uint64

// tempName is unique within the process and marked as temporary for every watcher (".x",
// "*.tmp"), so a half-written file is never picked up by mssbridge or the clinical software.
func tempName(dst string) string {
	return filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+"."+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(tmpSeq.Add(1), 10)+".tmp")
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	return WriteFrom(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom streams what fill writes into path atomically.
func WriteFrom(path string, fill func(io.Writer) error) (err error) {
	if err := MkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	tmp := tempName(path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(path), err)
	}
	if err = rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Copy copies src to dst atomically (dst appears whole or not at all).
func Copy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", filepath.Base(src), err)
	}
	defer in.Close()
	return WriteFrom(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// Move moves src to dst: a rename when both are on one file system, otherwise an atomic copy
// followed by the removal of src. If it returns an error, src is still in place (and dst may
// exist whole: callers treat Move as idempotent and may call it again).
func Move(src, dst string) error {
	if err := MkdirAll(filepath.Dir(dst)); err != nil {
		return err
	}
	err := rename(src, dst)
	if err == nil {
		// On Windows a rename keeps the file's own access rights: a document claimed from
		// an input folder that users may read would stay readable by them in spool/ (anyone
		// may open a path in a folder they cannot list). It takes its new folder's rights,
		// as a copy would.
		inheritRights(dst)
		return SyncDir(filepath.Dir(dst))
	}
	if errors.Is(err, os.ErrNotExist) {
		return err
	}
	// A rename refused for want of rights (a share the service may read but not change, a
	// read-only mount) is not a move across file systems: copying would leave the source in
	// place and a copy behind at every try (the bridge made a new job of it each time, and
	// sent them all after a restart). Say no, and leave nothing.
	if IsPermanent(err) {
		return err
	}
	// Different file systems (a network share as input), or Windows refusing a rename across
	// volumes: copy then remove.
	if cerr := Copy(src, dst); cerr != nil {
		return cerr
	}
	if rerr := os.Remove(src); rerr != nil {
		return fmt.Errorf("remove %s after copy: %w", filepath.Base(src), rerr)
	}
	return nil
}

// rename retries briefly on Windows, where an antivirus or indexer may hold the file a moment.
func rename(src, dst string) error {
	var err error
	for i := 0; i < 5; i++ {
		if err = os.Rename(src, dst); err == nil {
			return nil
		}
		if runtime.GOOS != "windows" || errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(time.Duration(i+1) * 50 * time.Millisecond)
	}
	return fmt.Errorf("rename %s: %w", filepath.Base(src), err)
}

// SyncDir makes a rename in dir durable. Windows cannot open folders for sync; NTFS journals
// the rename itself, so there it is a no-op.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// IsPermanent reports disk errors that retrying will not fix soon: no space, no permission,
// read-only file system. The caller pauses or fails instead of spinning.
func IsPermanent(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS)
}

// CleanTemp removes the temporary files a crash left in dir (our own ".NAME.PID-N.tmp" names
// only, never another program's) and returns how many went.
func CleanTemp(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !isOurTemp(e.Name()) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

func isOurTemp(name string) bool {
	if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") {
		return false
	}
	core := strings.TrimSuffix(name, ".tmp")
	i := strings.LastIndexByte(core, '.')
	if i < 0 {
		return false
	}
	pid, seq, ok := strings.Cut(core[i+1:], "-")
	return ok && isDigits(pid) && isDigits(seq)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
