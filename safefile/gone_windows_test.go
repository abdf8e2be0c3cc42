package safefile

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestIsGoneNetworkErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{64, 67, 55} {
		err := &os.PathError{Op: "stat", Path: `\\serveur\partage\depot`, Err: errno}
		if !IsGone(fmt.Errorf("claim: %w", err)) {
			t.Errorf("errno %d not taken for a share gone away", errno)
		}
	}
	if IsGone(&os.PathError{Op: "open", Path: "x", Err: syscall.Errno(5)}) { // ERROR_ACCESS_DENIED
		t.Error("access denied taken for gone")
	}
}
