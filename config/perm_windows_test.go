//go:build windows

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

func TestCheckSecretFileWindows(t *testing.T) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	me := tu.User.Sid.String()
	dir := t.TempDir()
	tests := []struct {
		name string
		sddl string // protected, so nothing comes from the temporary folder
		want string // "" when accepted, else a group named in the refusal
	}{
		{"service and administrators", "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + me + ")", ""},
		{"Everyone may read", "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" + me + ")(A;;FR;;;WD)", "Everyone"},
		{"Users may read and run", "D:P(A;;FA;;;BA)(A;;FA;;;" + me + ")(A;;0x1200a9;;;BU)", `BUILTIN\Users`},
		{"Authenticated Users may modify", "D:P(A;;FA;;;" + me + ")(A;;0x1301bf;;;AU)", "Authenticated Users"},
		{"Guests", "D:P(A;;FA;;;" + me + ")(A;;GR;;;BG)", `BUILTIN\Guests`},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".key")
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		sd, err := windows.SecurityDescriptorFromString(tt.sddl)
		if err != nil {
			t.Fatal(err)
		}
		dacl, _, err := sd.DACL()
		if err != nil {
			t.Fatal(err)
		}
		if err := windows.SetNamedSecurityInfo(p, windows.SE_FILE_OBJECT,
			windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
			t.Fatal(err)
		}
		err = CheckSecretFile(p)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s: accepted", tt.name)
		case tt.want != "" && (!strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "icacls")):
			t.Errorf("%s: the message does not say who or what to do: %v", tt.name, err)
		}
	}
	if CheckSecretFile(dir) == nil {
		t.Error("a folder was accepted as a key file")
	}
	if CheckSecretFile(filepath.Join(dir, "absent")) == nil {
		t.Error("a missing file was accepted")
	}
}
