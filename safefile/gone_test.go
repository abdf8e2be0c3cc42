package safefile

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestIsGone(t *testing.T) {
	_, err := os.Stat(filepath.Join(t.TempDir(), "share", "in"))
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"missing folder", err, true},
		{"wrapped", fmt.Errorf("claim: %w", err), true},
		{"nil", nil, false},
		{"permission", os.ErrPermission, false},
	} {
		if got := IsGone(tc.err); got != tc.want {
			t.Errorf("%s: IsGone(%v) = %v", tc.name, tc.err, got)
		}
	}
}
