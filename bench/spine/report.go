package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

type report struct {
	opts        options
	peer        *peer
	docs        []doc
	dinfo       docsInfo
	readerStart time.Duration
	rcpt        string
	started     time.Time
	loadBefore  string
	cpuStart    cpuSample

	bridge     []throughputResult
	bare       []time.Duration
	bareCPU    []cpuUse
	durable    durableCosts
	latency    []latencyResult
	deliveries []string
	failures   []string
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

func (r *report) print(w io.Writer) {
	line := strings.Repeat("=", 100)
	now := time.Now()
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "mssbridge spine benchmark — %s (%s), %.0f s in all\n", now.Format("2006-01-02 15:04:05 MST"), now.UTC().Format(time.RFC3339), time.Since(r.started).Seconds())
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "machine    %s\n", machine())
	if after := loadAverage(); after != "" {
		fmt.Fprintf(w, "load avg   %s at start, %s at end (1/5/15 min)\n", r.loadBefore, after)
	}
	if u := cpuBetween(r.cpuStart, sampleCPU()); u.ok {
		fmt.Fprintf(w, "CPU        whole run: %s (others: the peer, and anything else running)\n", u)
	}
	fmt.Fprintf(w, "peer       %s: %s\n", r.peer.name, r.peer.description)
	var size int
	for _, d := range r.docs {
		size += len(d.data)
	}
	fmt.Fprintf(w, "documents  %d one-page PDFs, %.1f KB average, tagged #MSS-TO: %s and #MSS-PATIENT; %s\n", len(r.docs), float64(size)/float64(len(r.docs))/1000, r.rcpt, r.dinfo.source)
	fmt.Fprintf(w, "bridge     in process: bridge.Open + Run, real reader (PDFium wasm, 2 workers, started in %.2f s), routing.default_action send,\n", r.readerStart.Seconds())
	fmt.Fprintf(w, "           one box at the peer (STARTTLS, client certificate), sending.connections %d, fresh data_dir per run\n", connections(r.opts))

	// 1. Throughput.
	fmt.Fprintln(w)
	quiet := defaultQuiet
	if len(r.bridge) > 0 {
		quiet = r.bridge[0].quiet
	}
	fmt.Fprintf(w, "1. THROUGHPUT — %d documents dropped at once (watch.quiet %s, the default)\n", len(r.docs), quiet)
	fmt.Fprintf(w, "   %-58s %-16s %-16s %s\n", "", "run 1", "run 2", "better")
	var bridgeRates, pipeRates, bareRates []float64
	for _, t := range r.bridge {
		bridgeRates = append(bridgeRates, t.rate())
		pipeRates = append(pipeRates, float64(t.n)/t.pipelineSpan().Seconds())
	}
	for _, b := range r.bare {
		bareRates = append(bareRates, float64(len(r.docs))/b.Seconds())
	}
	row := func(label, unit string, rates []float64) float64 {
		cells := make([]string, 0, 3)
		best := 0.0
		for _, x := range rates {
			cells = append(cells, fmt.Sprintf("%7.1f %s", x, unit))
			best = max(best, x)
		}
		for len(cells) < 2 {
			cells = append(cells, "—")
		}
		fmt.Fprintf(w, "   %-58s %-16s %-16s %7.1f %s\n", label, cells[0], cells[1], best, unit)
		return best
	}
	bestBridge := row("bridge: first drop -> last \"sent\"", "doc/s", bridgeRates)
	bestPipe := row("bridge: first \"claimed\" -> last \"sent\" (no quiet window)", "doc/s", pipeRates)
	bestBare := row("bare go-smtp client: 1 mTLS connection, STARTTLS", "msg/s", bareRates)
	if bestBare > 0 {
		fmt.Fprintf(w, "   ratio bridge/bare (better/better): %.2f (aim >= 0.70); without the quiet window: %.2f\n", bestBridge/bestBare, bestPipe/bestBare)
	}
	for i, t := range r.bridge {
		fmt.Fprintf(w, "   raw: bridge run %d %d docs in %s (claims began %s after the drop)", i+1, t.n, secs(t.elapsed), secs(t.firstClaim().Sub(t.drop)))
		if t.deferred > 0 {
			fmt.Fprintf(w, ", %d deferred try(ies)", t.deferred)
		}
		fmt.Fprintf(w, "\n        CPU, drop -> last sent: %s\n", t.cpu)
	}
	for i, b := range r.bare {
		fmt.Fprintf(w, "   raw: bare run %d %d messages in %s (%.1f ms/message)\n", i+1, len(r.docs), secs(b), b.Seconds()*1000/float64(len(r.docs)))
		if i < len(r.bareCPU) {
			fmt.Fprintf(w, "        CPU: %s\n", r.bareCPU[i])
		}
	}

	// 3. Stages of the better bridge run.
	if best := r.bestBridge(); best != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "   Where the time goes (better bridge run, %d docs; times from OnEvent; \"+s\" is since the drop)\n", best.n)
		fmt.Fprintf(w, "   %-34s %-9s %-9s %-12s %-9s %-9s %-9s\n", "stage (event -> event)", "first", "last", "rate", "p50/doc", "p90/doc", "max/doc")
		type stage struct {
			name     string
			from, to func(jobTimes) time.Time
		}
		drop := func(jobTimes) time.Time { return best.drop }
		stages := []stage{
			{"watcher: drop -> claimed", drop, func(j jobTimes) time.Time { return j.claimed }},
			{"read+route: claimed -> routed", func(j jobTimes) time.Time { return j.claimed }, func(j jobTimes) time.Time { return j.routed }},
			{"queue+build: routed -> sending", func(j jobTimes) time.Time { return j.routed }, func(j jobTimes) time.Time { return j.sending }},
			{"SMTP+after: sending -> sent", func(j jobTimes) time.Time { return j.sending }, func(j jobTimes) time.Time { return j.sent }},
		}

		for _, s := range stages {
			var per []time.Duration
			var first, last time.Time
			for _, j := range best.jobs {
				end := s.to(j)
				per = append(per, end.Sub(s.from(j)))
				if first.IsZero() || end.Before(first) {
					first = end
				}
				if end.After(last) {
					last = end
				}
			}
			rate := "—"
			if span := last.Sub(first); len(per) > 1 && span > 0 {
				rate = fmt.Sprintf("%.1f/s", float64(len(per)-1)/span.Seconds())
			}
			fmt.Fprintf(w, "   %-34s %-9s %-9s %-12s %-9s %-9s %-9s\n", s.name,
				fmt.Sprintf("+%.2fs", first.Sub(best.drop).Seconds()), fmt.Sprintf("+%.2fs", last.Sub(best.drop).Seconds()), rate,
				fmt.Sprintf("%.3fs", percentile(per, 50).Seconds()), fmt.Sprintf("%.3fs", percentile(per, 90).Seconds()), fmt.Sprintf("%.3fs", maxOf(per).Seconds()))
		}
		fmt.Fprintln(w, "   first/last: when the first and the last document finished the stage; rate: documents finishing it per second")
		fmt.Fprintln(w, "   between those two; p50/p90/max: time one document spent in the stage, waiting for a worker included.")
		fmt.Fprintln(w, "   read+route holds one of the 2 reading slots; queue+build waits for one of the sending.connections slots, which")
		fmt.Fprintln(w, "   is held from there to \"sent\" (SMTP+after includes the store commit, the archive move and the journal entry).")
		fmt.Fprintf(w, "   Durable steps on this disk: %s;\n", r.durable)
		fmt.Fprintf(w, "   a document's journal entries in this run: %s; one store commit per state change besides.\n", best.eventList())
	}

	// 2. Latency.
	fmt.Fprintln(w)
	if len(r.latency) == 0 {
		fmt.Fprintln(w, "2. LATENCY — not measured (-latency 0)")
	} else {
		r.printLatency(w)
	}
	// Delivery.
	fmt.Fprintln(w)
	fmt.Fprintln(w, "DELIVERY — every message checked at the peer by Message-ID")
	for _, d := range r.deliveries {
		fmt.Fprintln(w, "   "+d)
	}
	fmt.Fprintln(w)
	if len(r.failures) == 0 {
		fmt.Fprintln(w, "RESULT: OK — no document lost, held, failed or undelivered (timings are reported, never judged)")
	} else {
		fmt.Fprintf(w, "RESULT: FAILED — %d problem(s):\n", len(r.failures))
		for _, f := range r.failures {
			fmt.Fprintln(w, "   - "+strings.ReplaceAll(f, "\n", "\n     "))
		}
	}
	fmt.Fprintln(w, line)
}

func (r *report) bestBridge() *throughputResult {
	var best *throughputResult
	for i := range r.bridge {
		if best == nil || r.bridge[i].elapsed < best.elapsed {
			best = &r.bridge[i]
		}
	}
	return best
}

func (t throughputResult) firstClaim() time.Time {
	var first time.Time
	for _, j := range t.jobs {
		if first.IsZero() || j.claimed.Before(first) {
			first = j.claimed
		}
	}
	return first
}

// pipelineSpan runs from the first claim to the last "sent": the throughput of the bridge
// itself, without the watcher's quiet window.
func (t throughputResult) pipelineSpan() time.Duration {
	return t.drop.Add(t.elapsed).Sub(t.firstClaim())
}

func (r *report) printLatency(w io.Writer) {
	fmt.Fprintf(w, "2. LATENCY — one document at a time, %d timed after %d warm-up, from the rename into the input folder to \"sent\"\n", r.opts.latencyN, r.opts.warmup)
	fmt.Fprintf(w, "   %-20s %-8s %-8s %-8s %-36s %s\n", "watch.quiet", "p50", "p99", "max", "watcher (rename->claimed) p50/max", "pipeline (claimed->sent) p50/max")
	sort.SliceStable(r.latency, func(i, j int) bool { return r.latency[i].isDefault && !r.latency[j].isDefault })
	for _, l := range r.latency {
		label := l.quiet.String()
		if l.isDefault {
			label += " (default)"
		}
		wq := percentile(l.toClaimed, 50)
		fmt.Fprintf(w, "   %-20s %-8s %-8s %-8s %-36s %s\n", label,
			fmt.Sprintf("%.3fs", percentile(l.total, 50).Seconds()), fmt.Sprintf("%.3fs", percentile(l.total, 99).Seconds()), fmt.Sprintf("%.3fs", maxOf(l.total).Seconds()),
			fmt.Sprintf("%.3fs / %.3fs (p50 %.2f x quiet)", wq.Seconds(), maxOf(l.toClaimed).Seconds(), wq.Seconds()/l.quiet.Seconds()),
			fmt.Sprintf("%.3fs / %.3fs", percentile(l.pipeline, 50).Seconds(), maxOf(l.pipeline).Seconds()))
		if l.truncated > 0 {
			fmt.Fprintf(w, "   %-20s only %d of %d documents timed: the time budget (-budget %s) ran out\n", "", len(l.total), r.opts.latencyN, r.opts.budget)
		}
	}
	fmt.Fprintln(w, "   The quiet window is a SAFETY DELAY, not work: the watcher claims a file only once its size and mtime have stood")
	fmt.Fprintln(w, "   still that long, so that a file still being written is never taken (a PDF that already ends with its end-of-file")
	fmt.Fprintln(w, "   marker may get a shorter window, never longer than watch.quiet: watcher.Options.PDFQuiet). It is the floor of the")
	fmt.Fprintf(w, "   latency by design; the pipeline column is what the bridge itself adds. p99 is nearest-rank: of %d samples, the maximum.\n", r.opts.latencyN)
}

// eventList names the journal entries of one sent job, e.g. "claimed, routed, sending, sent (4)".
func (t throughputResult) eventList() string {
	for _, j := range t.jobs {
		if !j.sent.IsZero() {
			return fmt.Sprintf("%s (%d)", strings.Join(j.events, ", "), len(j.events))
		}
	}
	return "none"
}
