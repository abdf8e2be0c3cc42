package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// PrepareAccount makes the dedicated account ready before the unit is installed: the system
// user (no login, no home created) when it does not exist, the service's own folders created or
// given to it, the shared folders created when missing. What it cannot fix without guessing
// the site's intent (a shared folder or a key file the user cannot reach) comes back as a
// warning with the command that fixes it. It returns one line per thing done or found.
func PrepareAccount(a Account) ([]string, error) {
	if a.User == "" {
		return nil, nil
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("creating the service account needs root: run with sudo")
	}
	var notes []string
	u, err := user.Lookup(a.User)
	if err != nil {
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, err
		}
		if err := addSystemUser(a.User, a.Home); err != nil {
			return nil, err
		}
		notes = append(notes, fmt.Sprintf("created the system user %s (no login shell)", a.User))
		if u, err = user.Lookup(a.User); err != nil {
			return notes, err
		}
	}
	uid, gid, gids, err := ids(u)
	if err != nil {
		return notes, err
	}
	for _, d := range a.Own {
		created, err := mkdirOwned(d, uid, gid)
		if err != nil {
			return notes, err
		}
		if created {
			notes = append(notes, fmt.Sprintf("created %s for %s (0700)", d, a.User))
			continue
		}
		fi, err := os.Stat(d)
		if err != nil {
			return notes, err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid {
			if err := chownTree(d, uid, gid); err != nil {
				return notes, err
			}
			notes = append(notes, fmt.Sprintf("gave %s and its content to %s", d, a.User))
		}
	}
	for _, d := range a.Write {
		created, err := mkdirOwned(d, uid, gid)
		if err != nil {
			return notes, err
		}
		if created {
			notes = append(notes, fmt.Sprintf("created %s for %s (0700)", d, a.User))
		} else if !reachable(d, uid, gids, 7) {
			notes = append(notes, fmt.Sprintf("warning: %s cannot write in %s: give it access, e.g. setfacl -m u:%s:rwx %s", a.User, d, a.User, d))
		}
	}
	for _, f := range a.Read {
		if f == "" {
			continue
		}
		if !reachable(f, uid, gids, 4) {
			notes = append(notes, fmt.Sprintf("warning: %s cannot read %s: e.g. chgrp %s %s && chmod g+r %s (and g+x on its folders)", a.User, f, a.User, f, f))
		}
	}
	return notes, nil
}

func addSystemUser(name, home string) error {
	shell := "/usr/sbin/nologin"
	if _, err := os.Stat(shell); err != nil {
		shell = "/sbin/nologin"
	}
	if home == "" {
		home = "/nonexistent"
	}
	if p, err := exec.LookPath("useradd"); err == nil {
		out, err := exec.Command(p, "--system", "--user-group", "--home-dir", home, "--no-create-home",
			"--shell", shell, "--comment", "mssbridge", name).CombinedOutput()
		if err != nil {
			return fmt.Errorf("useradd %s: %v: %s", name, err, out)
		}
		return nil
	}
	if p, err := exec.LookPath("adduser"); err == nil {
		out, err := exec.Command(p, "--system", "--group", "--home", home, "--no-create-home",
			"--shell", shell, name).CombinedOutput()
		if err != nil {
			return fmt.Errorf("adduser %s: %v: %s", name, err, out)
		}
		return nil
	}
	return fmt.Errorf("no useradd nor adduser to create the user %s: create it, or give --user", name)
}

func ids(u *user.User) (uid, gid uint32, gids []uint32, err error) {
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, 0, nil, err
	}
	g, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return 0, 0, nil, err
	}
	gids = []uint32{uint32(g)}
	if more, err := u.GroupIds(); err == nil {
		for _, s := range more {
			if x, err := strconv.ParseUint(s, 10, 32); err == nil {
				gids = append(gids, uint32(x))
			}
		}
	}
	return uint32(n), uint32(g), gids, nil
}

// mkdirOwned creates dir and any missing parent, each given to uid:gid with mode 0700 (the
// parents too: a parent left to root with 0700 would lock the user out). It reports whether
// dir was created.
func mkdirOwned(dir string, uid, gid uint32) (bool, error) {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	for _, d := range missing {
		if err := os.Chown(d, int(uid), int(gid)); err != nil {
			return true, err
		}
	}
	return true, nil
}

func chownTree(root string, uid, gid uint32) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
}

// reachable: search permission on every folder above path, need on path itself (plus search
// when it is a folder).
func reachable(path string, uid uint32, gids []uint32, need uint32) bool {
	path, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if !check(d, uid, gids, 1) {
			return false
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return check(path, uid, gids, need)
}

func check(path string, uid uint32, gids []uint32, need uint32) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st := fi.Sys().(*syscall.Stat_t)
	return allowed(uint32(fi.Mode().Perm()), st.Uid, st.Gid, uid, gids, need)
}
