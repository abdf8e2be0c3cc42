package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
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
	procs               procTimes
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

// sampleCPUProcs is sampleCPU with every other process's times, for topProcs.
func sampleCPUProcs() cpuSample {
	s := sampleCPU()
	s.procs = sampleProcs()
	return s
}

// cpuUse is what happened between two samples, in cores (0..nproc).
type cpuUse struct {
	ok                   bool
	busy, self, iowaitPc float64
	top                  string // the other processes that used the most
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
	if len(a.procs.procs) > 0 && len(b.procs.procs) > 0 {
		u.top = topProcs(a.procs, b.procs, 6, max(u.busy-u.self, 0))
	}
	return u
}

func (u cpuUse) String() string {
	if !u.ok {
		return "CPU use unknown (no /proc)"
	}
	s := fmt.Sprintf("%.2f of %d cores busy: spine process %.2f, other processes %.2f; iowait %.0f%%",
		u.busy, runtime.NumCPU(), u.self, max(u.busy-u.self, 0), u.iowaitPc)
	if u.top != "" {
		s += "\n          others by command (cores; reaped children included): " + u.top
	}
	return s
}

// procTimes is every process's CPU time (its own and that of its reaped children, so that a
// Postfix pipe(8) counts the delivery scripts it ran), in jiffies, by pid.
type procTimes struct {
	at    time.Time
	procs map[int]procTime
}

type procTime struct {
	comm string
	cpu  float64
}

func sampleProcs() procTimes {
	pt := procTimes{at: time.Now(), procs: map[int]procTime{}}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return pt
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		g := strings.Fields(s[closing+1:])
		if len(g) < 15 {
			continue
		}
		var sum float64
		for _, v := range g[11:15] { // utime stime cutime cstime
			x, _ := strconv.ParseFloat(v, 64)
			sum += x
		}
		pt.procs[pid] = procTime{comm: s[open+1 : closing], cpu: sum}
	}
	return pt
}

// topProcs names the commands that used the most CPU between a and b (other than this
// process), in cores, e.g. "pipe 0.61, smtpd 0.32, cleanup 0.20". A child's time is counted
// when its parent reaps it, all at once: a command's figure is capped at limit (the other
// processes' exact total), and a figure at the cap means "a long job ended meanwhile".
func topProcs(a, b procTimes, n int, limit float64) string {
	wall := b.at.Sub(a.at).Seconds()
	if len(b.procs) == 0 || wall <= 0 {
		return ""
	}
	by := map[string]float64{}
	for pid, p := range b.procs {
		d := p.cpu
		if q, ok := a.procs[pid]; ok && q.comm == p.comm {
			d -= q.cpu
		}
		if d > 0 {
			by[p.comm] += d / userHZ / wall
		}
	}
	type kv struct {
		k string
		v float64
	}
	var list []kv
	for k, v := range by {
		if v >= 0.01 {
			list = append(list, kv{k, v})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
	var parts []string
	for i, x := range list {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", x.k, min(x.v, limit)))
	}
	if len(parts) == 0 {
		return "none above 0.01 core"
	}
	return strings.Join(parts, ", ")
}
