package service

import "testing"

func TestAllowed(t *testing.T) {
	const user, group, other = 1000, 1000, 2000
	for _, tc := range []struct {
		name     string
		mode     uint32
		fuid     uint32
		fgid     uint32
		uid      uint32
		gids     []uint32
		need     uint32
		expected bool
	}{
		{"owner reads 0600", 0o600, user, other, user, []uint32{group}, 4, true},
		{"group reads 0640", 0o640, 0, group, user, []uint32{group}, 4, true},
		{"group cannot read 0600", 0o600, 0, group, user, []uint32{group}, 4, false},
		{"other reads 0644", 0o644, 0, 0, user, []uint32{group}, 4, true},
		{"folder 0700 root: no search", 0o700, 0, 0, user, []uint32{group}, 1, false},
		{"folder 0750 group: search", 0o750, 0, group, user, []uint32{other, group}, 1, true},
		{"owner bits win over other bits", 0o007, user, 0, user, nil, 4, false},
		{"write needs w and x", 0o750, 0, group, user, []uint32{group}, 7, false},
		{"root", 0o000, 5, 5, 0, nil, 7, true},
	} {
		if got := allowed(tc.mode, tc.fuid, tc.fgid, tc.uid, tc.gids, tc.need); got != tc.expected {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}
