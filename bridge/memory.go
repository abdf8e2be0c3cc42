package bridge

import (
	"os"
	"runtime/debug"
)

// SoftMemoryLimit is the Go runtime's soft memory limit for a running bridge (GOMEMLIMIT).
//
// The project aims at a peak RSS under 150 MB whatever arrives. Measured with every hostile
// file and twenty letters dropped at once (test/hostile, TestHostileFilesDroppedTogether), the
// peak is made of the program's own pages (26 MB), PDFium's memories (up to 60 MB: one
// instance stopped at its 40 MiB budget by a bomb, the other at its initial 18 MiB) and what
// the Go runtime holds. The live Go heap stays near 20 MB; left to itself the runtime let
// garbage and free spans grow to 65–100 MB and the peak passed 150 MB. With 120 MiB it
// measured 134–163 MB, with 64 MiB 140–157 MB, with 48 MiB 132–140 MB: the collector works
// harder only while the heap is near the limit, which a letter never reaches.
const SoftMemoryLimit = 48 << 20

// SetSoftMemoryLimit applies SoftMemoryLimit unless GOMEMLIMIT says otherwise.
func SetSoftMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(SoftMemoryLimit)
	}
}
