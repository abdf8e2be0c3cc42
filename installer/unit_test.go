package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderSystemdUnit(t *testing.T) {
	base := Unit{
		Description: "mssbridge (passerelle MSSanté)",
		Exec:        "/usr/bin/mssbridge",
		Args:        []string{"run", "-c", "/etc/mssbridge/mssbridge.yaml"},
		User:        "mssbridge",
		ReadWritePaths: []string{"/var/lib/mssbridge", "/var/spool/mssbridge/print", "/var/lib/mssbridge/cache",
			"/srv/dui/import", "/var/spool/mssbridge", "/var/log/mssbridge"},
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Unit)
		want    []string // lines that must be there
		notWant []string
		err     string
	}{
		{name: "package folders", edit: func(*Unit) {},
			want: []string{
				"ExecStart=/usr/bin/mssbridge run -c /etc/mssbridge/mssbridge.yaml",
				"Restart=on-failure", "User=mssbridge", "NoNewPrivileges=yes", "ProtectSystem=strict",
				"ProtectHome=yes", "PrivateTmp=yes", "UMask=0077",
				"ReadWritePaths=-/var/lib/mssbridge", "ReadWritePaths=-/var/spool/mssbridge",
				"ReadWritePaths=-/srv/dui/import", "ReadWritePaths=-/var/log/mssbridge",
				"Description=mssbridge (passerelle MSSanté)", "WantedBy=multi-user.target",
			},
			notWant: []string{"ReadWritePaths=-/var/spool/mssbridge/print", "ReadWritePaths=-/var/lib/mssbridge/cache", "@", "##", "MemoryDenyWriteExecute="}},
		{name: "root", edit: func(u *Unit) { u.User = "" }, notWant: []string{"User="}},
		{name: "spaces and percent", edit: func(u *Unit) {
			u.Args[2] = "/etc/mss bridge/100%.yaml"
			u.ReadWritePaths = []string{"/srv/dui export"}
		}, want: []string{`ExecStart=/usr/bin/mssbridge run -c "/etc/mss bridge/100%%.yaml"`, `ReadWritePaths=-"/srv/dui export"`}},
		{name: "folder under /home", edit: func(u *Unit) { u.ReadWritePaths = append(u.ReadWritePaths, "/home/dui/export") },
			want: []string{"ProtectHome=read-only", "PrivateTmp=yes"}},
		{name: "folder under /tmp", edit: func(u *Unit) { u.ReadWritePaths = []string{"/tmp/mssbridge"} },
			want: []string{"ProtectHome=yes", "PrivateTmp=no"}},
		{name: "configuration under /tmp", edit: func(u *Unit) { u.ReadPaths = []string{"/tmp/x/mssbridge.yaml"} },
			want: []string{"ProtectHome=yes", "PrivateTmp=no"}},
		{name: "certificate under /root", edit: func(u *Unit) { u.ReadPaths = []string{"/root/ca.pem"} },
			want: []string{"ProtectHome=read-only", "PrivateTmp=yes"}},
		{name: "relative program", edit: func(u *Unit) { u.Exec = "mssbridge" }, err: "not absolute"},
		{name: "relative folder", edit: func(u *Unit) { u.ReadWritePaths = []string{"data"} }, err: "not absolute"},
		{name: "no folder", edit: func(u *Unit) { u.ReadWritePaths = nil }, err: "no folder"},
		{name: "newline", edit: func(u *Unit) { u.Args[2] = "a\n[Service]\nExecStartPre=/bin/sh" }, err: "cannot be written"},
		{name: "template syntax", edit: func(u *Unit) { u.Description = "{{Path}}" }, err: "cannot be written"},
		{name: "bad user", edit: func(u *Unit) { u.User = "a b" }, err: "not a user name"},
		{name: "dollar in a folder", edit: func(u *Unit) { u.ReadWritePaths = []string{"/srv/$x"} }, err: "$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := base
			u.Args = append([]string(nil), base.Args...)
			u.ReadWritePaths = append([]string(nil), base.ReadWritePaths...)
			tc.edit(&u)
			got, err := RenderSystemdUnit(u)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(got, "\n")
			for _, w := range tc.want {
				if !contains(lines, w) {
					t.Errorf("missing line %q in\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q should not be in\n%s", w, got)
				}
			}
		})
	}
}

func contains(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}
	return false
}

// systemd itself accepts the unit (systemd-analyze verify; skipped where systemd is absent).
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	self, err := os.Executable() // any executable file will do for ExecStart
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unit, err := RenderSystemdUnit(Unit{Description: "mssbridge test", Exec: self, Args: []string{"run", "-c", "/etc/mssbridge/mssbridge.yaml"},
		User: "mssbridge", ReadWritePaths: []string{"/var/lib/mssbridge", "/srv/dui import"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "mssbridge.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s\n%s", err, out, unit)
	}
}
