package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the machine's and this process's CPU counters at one moment, from /proc (Linux;
// elsewhere ok is false and the report leaves CPU out). It tells, per measurement, whether the
// bridge was short of CPU, and who else used it: on the postfix peer, Postfix's smtpd, cleanup
// and the pipe delivery of each message run on the same cores.
type cpuSample struct {
	ok                  bool
	at                  time.Time
	total, idle, iowait float64 // jiffies, all CPUs
	self                float64 // this process, user+system, jiffies
}

const userHZ = 100 // USER_HZ: the unit of /proc/stat and /proc/PID/stat on every Linux ABI Go runs on

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return s
	}
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		s.total += x
		switch i {
		case 3:
			s.idle += x
		case 4:
			s.idle += x
			s.iowait = x
		}
	}
	self, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return s
	}
	// The command name may hold spaces: fields count from the last ')'.
	rest := string(self)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	g := strings.Fields(rest)
	if len(g) < 13 {
		return s
	}
	ut, _ := strconv.ParseFloat(g[11], 64) // utime, field 14
	st, _ := strconv.ParseFloat(g[12], 64) // stime, field 15
	s.self = ut + st
	s.ok = true
	return s
}

// cpuUse is what happened between two samples, in cores (0..nproc).
type cpuUse struct {
	ok                   bool
	busy, self, iowaitPc float64
}

func cpuBetween(a, b cpuSample) cpuUse {
	if !a.ok || !b.ok || b.total <= a.total {
		return cpuUse{}
	}
	n := float64(runtime.NumCPU())
	dt := b.total - a.total
	wall := b.at.Sub(a.at).Seconds()
	u := cpuUse{ok: true}
	u.busy = (dt - (b.idle - a.idle)) / dt * n
	if wall > 0 {
		u.self = (b.self - a.self) / userHZ / wall
	}
	u.iowaitPc = (b.iowait - a.iowait) / dt * 100
	return u
}

func (u cpuUse) String() string {
	if !u.ok {
		return "CPU use unknown (no /proc)"
	}
	return fmt.Sprintf("%.2f of %d cores busy: spine process %.2f, other processes %.2f; iowait %.0f%%",
		u.busy, runtime.NumCPU(), u.self, max(u.busy-u.self, 0), u.iowaitPc)
}
