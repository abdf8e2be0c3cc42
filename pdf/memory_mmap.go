//go:build linux || darwin

package pdf

import (
	"math"
	"time"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// unmapDelay: wazero frees a module's memory when the module is closed, and a module is
// closed (killed) while a call may still be running in it on another goroutine, which stops
// at its next check. The pages are released at once (MADV_DONTNEED: the mapping stays valid,
// a late access reads zeros instead of faulting) and the address range is unmapped only after
// this delay, far longer than any call takes to notice it was stopped.
const unmapDelay = time.Minute

// mmapMemory is a linear memory reserved at its maximum size in an anonymous private mapping
// with no swap reservation: only the pages PDFium writes cost memory.
type mmapMemory struct {
	mapping []byte
	size    uint64
	budget  *budget
}

func newMappedMemory(maxBytes uint64, b *budget) experimental.LinearMemory {
	if maxBytes == 0 || maxBytes > math.MaxInt {
		return nil
	}
	m, err := unix.Mmap(-1, 0, int(maxBytes), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil // 32-bit address space, strict overcommit: fall back to a slice
	}
	return &mmapMemory{mapping: m, budget: b}
}

func (m *mmapMemory) Reallocate(size uint64) []byte {
	if m.mapping == nil || !m.budget.allows(size) || size > uint64(len(m.mapping)) {
		return nil // PDFium's malloc fails, it aborts, the call ends in a trap
	}
	if size > m.size {
		// Fresh pages of an anonymous mapping read as zeros, as WebAssembly requires.
		trackGrowth(int64(size - m.size))
		m.size = size
	}
	return m.mapping[:size]
}

func (m *mmapMemory) Free() {
	b := m.mapping
	if b == nil {
		return
	}
	m.mapping = nil
	trackGrowth(-int64(m.size))
	_ = unix.Madvise(b, unix.MADV_DONTNEED)
	time.AfterFunc(unmapDelay, func() { _ = unix.Munmap(b) })
}
