package pdf

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Why PDFium's memory has an allocator of our own.
//
// wazero's default linear memory is a Go slice that grows by append: each time PDFium asks
// for more memory the whole slice is copied into a larger one, and the old one stays until
// the garbage collector runs. Measured on a 10 KB decompression bomb (a content stream that
// inflates to 2 GiB), the process reached 4.5 GB of RSS for an instance capped at 1 GiB, and
// a 50 MB scan needed 300 MB. Reserving each memory at its maximum size in an anonymous
// mapping (mmapMemory, on Linux and macOS) makes growth free of copies, costs only the pages
// PDFium touches, and gives them back to the system as soon as the instance is discarded.
// Elsewhere (Windows) wazero's default is kept and only the cap bounds it.

// wasmMemoryInUse and wasmMemoryPeak count the bytes of the linear memories alive (their
// current length), for the tests that bound them.
var wasmMemoryInUse, wasmMemoryPeak atomic.Int64

func trackGrowth(delta int64) {
	now := wasmMemoryInUse.Add(delta)
	for {
		peak := wasmMemoryPeak.Load()
		if now <= peak || wasmMemoryPeak.CompareAndSwap(peak, now) {
			return
		}
	}
}

// budget is what every memory of one Extractor may grow to, and how often one was refused.
type budget struct {
	limit   uint64
	refused atomic.Int64
}

// allows reports whether a memory may grow to size bytes, counting a refusal.
func (b *budget) allows(size uint64) bool {
	if size <= b.limit {
		return true
	}
	b.refused.Add(1)
	return false
}

// sliceMemory is wazero's behaviour (a Go slice grown by append), for platforms without
// mappings and for when a mapping cannot be made.
type sliceMemory struct {
	buf    []byte
	budget *budget
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if !m.budget.allows(size) {
		return nil // PDFium's malloc fails, it aborts, the call ends in a trap
	}
	if n := uint64(len(m.buf)); size > n {
		trackGrowth(int64(size - n))
		m.buf = append(m.buf, make([]byte, size-n)...)
	}
	return m.buf[:size]
}

func (m *sliceMemory) Free() {
	trackGrowth(-int64(len(m.buf)))
	m.buf = nil
}

// allocator returns the memory allocator of the PDFium instances of one Extractor.
func (b *budget) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capBytes, maxBytes uint64) experimental.LinearMemory {
		if m := newMappedMemory(min(maxBytes, b.limit), b); m != nil {
			return m
		}
		return &sliceMemory{buf: make([]byte, 0, min(capBytes, b.limit)), budget: b}
	})
}

// WasmMemory reports the bytes of PDFium linear memory alive now and the most alive at once
// since the process started, for diagnostics (the memory tests, /metrics).
func WasmMemory() (inUse, peak int64) {
	return wasmMemoryInUse.Load(), wasmMemoryPeak.Load()
}
