package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestOpenTo(t *testing.T) {
	const (
		readExec = 0x1200A9 // what icacls shows as (RX)
		modify   = 0x1301BF // (M)
		full     = 0x1F01FF // (F)
		oici     = 0x03
		user     = "S-1-5-21-1004336348-1177238915-682003330-1001"
	)
	allow := func(sid string, mask uint32) fileACE { return fileACE{typ: aceAllowed, mask: mask, sid: sid} }
	private := []fileACE{allow("S-1-5-18", full), allow("S-1-5-32-544", full), allow("S-1-5-19", readExec)}
	tests := []struct {
		name string
		null bool
		aces []fileACE
		want []string
	}{
		{"service, administrators, system", false, private, nil},
		{"a named user", false, append(private[:2:2], allow(user, full)), nil},
		{"Everyone reads", false, append(private[:3:3], allow("S-1-1-0", readExec)), []string{"Everyone"}},
		{"Users read (inherited from C:\\)", false, append(private[:3:3], fileACE{typ: aceAllowed, flags: 0x10, mask: readExec, sid: "S-1-5-32-545"}), []string{`BUILTIN\Users`}},
		{"Authenticated Users modify", false, append(private[:3:3], allow("S-1-5-11", modify)), []string{"Authenticated Users"}},
		{"Guests generic read", false, append(private[:3:3], allow("S-1-5-32-546", 0x80000000)), []string{`BUILTIN\Guests`}},
		{"Domain Users", false, append(private[:3:3], allow("S-1-5-21-1004336348-1177238915-682003330-513", readExec)), []string{"Domain Users"}},
		{"a domain account whose RID ends in 513", false, append(private[:3:3], allow("S-1-5-21-1-2-3-10513", readExec)), nil},
		{"Users may only see attributes", false, append(private[:3:3], allow("S-1-5-32-545", 0x100080)), nil},
		{"Users may change the rights", false, append(private[:3:3], allow("S-1-5-32-545", 0x40000)), []string{`BUILTIN\Users`}},
		{"Users may append", false, append(private[:3:3], allow("S-1-5-32-545", 0x4)), []string{`BUILTIN\Users`}},
		{"inherit-only entry for Users", false, append(private[:3:3], fileACE{typ: aceAllowed, flags: oici | 0x08, mask: full, sid: "S-1-5-32-545"}), nil},
		{"deny for Everyone", false, append(private[:3:3], fileACE{typ: 0x01, mask: full, sid: "S-1-1-0"}), nil},
		{"conditional grant to Users", false, append(private[:3:3], fileACE{typ: aceAllowedCallback, mask: readExec, sid: "S-1-5-32-545"}), []string{`BUILTIN\Users`}},
		{"several, sorted, once each", false, append(private[:3:3], allow("S-1-5-32-545", readExec), allow("S-1-1-0", readExec), allow("S-1-5-32-545", modify)), []string{`BUILTIN\Users`, "Everyone"}},
		{"NULL DACL", true, nil, []string{"Everyone"}},
	}
	for _, tt := range tests {
		got := openTo(tt.null, tt.aces)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: openTo = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestACLErrorSaysWhoAndWhatToDo(t *testing.T) {
	msg := aclError([]string{`BUILTIN\Users`, "Everyone"}).Error()
	for _, want := range []string{`BUILTIN\Users, Everyone`, "icacls", "/inheritance:r", "*S-1-5-18:F", "*S-1-5-32-544:F"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}
