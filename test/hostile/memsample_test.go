package hostile

import (
	"context"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/pdf"
)

// memSample splits the child's resident memory at its highest sample, so that a peak over
// the aim says where to look: the Go heap, the rest of what Go mapped, or PDFium's memories.
type memSample struct {
	RSSMB      int64 `json:"rss_mb"`
	FileMB     int64 `json:"file_mb"`      // RssFile: the program's own pages (code, read-only data)
	GoHeapMB   int64 `json:"go_heap_mb"`   // live and not yet collected heap objects
	GoTotalMB  int64 `json:"go_total_mb"`  // everything the Go runtime mapped and did not release
	WasmMB     int64 `json:"wasm_mb"`      // PDFium linear memories (their length)
	WasmPeakMB int64 `json:"wasm_peak_mb"` // most PDFium memory alive at once so far
}

// sampleMemory samples every 10 ms until ctx ends; the function it returns gives the sample
// taken when RSS was highest.
func sampleMemory(ctx context.Context) func() *memSample {
	var mu sync.Mutex
	var best memSample
	var maxHeap int64
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rss, file := rssKB()
			mu.Lock()
			if p := os.Getenv("HOSTILE_HEAPPROFILE"); p != "" {
				metrics.Read(samples[:1])
				if h := int64(samples[0].Value.Uint64()); h > maxHeap {
					maxHeap = h
					if f, err := os.Create(p); err == nil {
						pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			}
			if rss/1000 > best.RSSMB {
				metrics.Read(samples)
				in, pk := pdf.WasmMemory()
				best = memSample{
					RSSMB:      rss / 1000,
					FileMB:     file / 1000,
					GoHeapMB:   int64(samples[0].Value.Uint64() / 1e6),
					GoTotalMB:  int64((samples[1].Value.Uint64() - samples[2].Value.Uint64()) / 1e6),
					WasmMB:     in / 1e6,
					WasmPeakMB: pk / 1e6,
				}
			}
			mu.Unlock()
		}
	}()
	return func() *memSample {
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		s := best
		return &s
	}
}

// rssKB is the process's VmRSS and RssFile from /proc (Linux), 0 elsewhere.
func rssKB() (rss, file int64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "RssFile":
			file = n
		}
	}
	return rss, file
}
