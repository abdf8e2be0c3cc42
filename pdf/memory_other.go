//go:build !(linux || darwin)

package pdf

import "github.com/tetratelabs/wazero/experimental"

// newMappedMemory: no mapping here; the allocator falls back to a Go slice (wazero's own
// behaviour), bounded by memoryLimitPages.
func newMappedMemory(uint64, *budget) experimental.LinearMemory { return nil }
