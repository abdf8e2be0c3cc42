package installer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Unit is what the systemd unit says about one installation.
type Unit struct {
	Description    string
	Exec           string   // absolute path of the mssbridge binary
	Args           []string // e.g. run -c /etc/mssbridge/mssbridge.yaml
	User           string   // the dedicated account; "" runs as root
	ReadWritePaths []string // absolute folders; duplicates and nested ones are dropped
	// ReadPaths are files it reads (configuration, certificates): one under /home or /tmp
	// relaxes ProtectHome or PrivateTmp, which would hide it.
	ReadPaths []string
}

// RenderSystemdUnit fills the unit template. The result has no template syntax left, so
// kardianos/service writes it as it is.
func RenderSystemdUnit(u Unit) (string, error) {
	if !filepath.IsAbs(u.Exec) {
		return "", fmt.Errorf("systemd unit: the program path %q is not absolute", u.Exec)
	}
	for _, v := range append([]string{u.Description, u.Exec, u.User}, append(u.Args, u.ReadWritePaths...)...) {
		if strings.ContainsAny(v, "\x00\r\n") || strings.Contains(v, "{{") {
			return "", fmt.Errorf("systemd unit: %q cannot be written in a unit file", v)
		}
	}
	if u.User != "" && strings.ContainsAny(u.User, " \t\"'\\/:") {
		return "", fmt.Errorf("systemd unit: %q is not a user name", u.User)
	}
	exec := []string{systemdQuote(u.Exec)}
	for _, a := range u.Args {
		exec = append(exec, systemdQuote(a))
	}
	user := ""
	if u.User != "" {
		user = "User=" + u.User // its primary group
	}
	paths, err := folders(u.ReadWritePaths)
	if err != nil {
		return "", err
	}
	var rw []string
	for _, p := range paths {
		if strings.Contains(p, "$") {
			return "", fmt.Errorf("systemd unit: the folder %q has a \"$\"", p)
		}
		// "-": a folder that does not exist yet is skipped instead of failing the start with
		// a namespace error; the bridge then reports the folder it cannot write in plain words.
		rw = append(rw, "ReadWritePaths=-"+systemdQuote(p))
	}
	if len(rw) == 0 {
		return "", errors.New("systemd unit: no folder to write to (data_dir at least)")
	}
	// ReadWritePaths cannot reopen a folder that ProtectHome=yes hides, nor one in the /tmp that
	// PrivateTmp=yes replaces.
	protectHome, privateTmp := "yes", "yes"
	for _, p := range append(append([]string{u.Exec}, paths...), u.ReadPaths...) {
		if under(p, "/home", "/root", "/run/user") {
			protectHome = "read-only"
		}
		if under(p, "/tmp", "/var/tmp") {
			privateTmp = "no"
		}
	}
	s := strings.NewReplacer(
		"@DESCRIPTION@", strings.ReplaceAll(u.Description, "%", "%%"),
		"@EXEC_START@", strings.Join(exec, " "),
		"@PROTECT_HOME@", protectHome,
		"@PRIVATE_TMP@", privateTmp,
	).Replace(SystemdUnit)
	var out []string
	for _, line := range strings.Split(s, "\n") {
		switch strings.TrimSpace(line) {
		case "@USER@":
			if user != "" {
				out = append(out, user)
			}
		case "@READ_WRITE_PATHS@":
			out = append(out, rw...)
		default:
			if !strings.HasPrefix(line, "##") {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n"), nil
}

func under(p string, roots ...string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// folders cleans the list: absolute, sorted as given, no duplicates, no folder inside another
// one already listed.
func folders(in []string) ([]string, error) {
	var out []string
	for _, p := range in {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("systemd unit: the folder %q is not absolute", p)
		}
		p = filepath.Clean(p)
		covered := false
		for i, q := range out {
			if p == q || strings.HasPrefix(p, q+"/") {
				covered = true
				break
			}
			if strings.HasPrefix(q, p+"/") {
				out[i] = p // the new folder holds an earlier one
				covered = true
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	// A replacement may have left duplicates.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, p := range out {
		if !seen[p] {
			seen[p] = true
			uniq = append(uniq, p)
		}
	}
	return uniq, nil
}

// systemdQuote writes one word of a unit file: quoted when it holds a space or a quote,
// with systemd's "%" specifier and "\" escaped.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;$") {
		return s
	}
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$").Replace(s)
	return `"` + s + `"`
}
