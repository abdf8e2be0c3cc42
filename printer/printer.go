// Package printer is the raw print listener: a network printer as print spoolers know it
// (AppSocket, also called JetDirect or "port 9100"), so that the bridge appears in every print
// dialog of the workstation or the server.
//
// Each TCP connection is one print job. A job is read to its end (the client closes its side),
// within a size cap and time limits, and taken apart (Parse): the PJL envelope that CUPS's
// generic PDF driver and most Windows drivers wrap around a document is removed, and the job
// name and the user who printed, which that envelope carries, are kept. A PDF is handed over as
// it is; PostScript is converted to PDF with Ghostscript when it is installed, and handed over
// as ".ps" when it is not (the bridge then holds or fails it with a reason a person can act
// on); plain text is laid out as a PDF whose text layer is exact (TextToPDF); anything else is
// handed over as ".bin" and fails with a reason. The connection is closed
// only once the job is stored, so a spooler that waits for the printer to hang up knows the
// job arrived; a job that is refused is closed with a reset, and the spooler keeps it.
//
// The package also installs and removes the print queue that points at the listener (CUPS's
// lpadmin with a driver of our own that sends PDF, and plain text as it was printed;
// PowerShell's Add-Printer with the « Microsoft Print to PDF » driver on Windows).
//
// It does not import the bridge: the caller gives a SubmitFunc.
package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Defaults. Each is a compromise between a large real job and a stuck or hostile client.
const (
	// 100 MB: a 300-page scanned document printed as PDF is about 60 MB; MSSanté operators
	// cap messages near 20-30 MB anyway, so anything bigger fails later with a reason.
	DefaultMaxSize = 100 << 20
	// A Windows spooler set to "start printing immediately" sends pages while the application
	// renders them: two minutes of silence covers a slow application, not a dead client.
	DefaultIdleTimeout = 2 * time.Minute
	// Ten minutes for a whole job: 100 MB at the speed of a poor network link (≈ 1.5 Mbit/s).
	DefaultJobTimeout = 10 * time.Minute
	// Ghostscript converts a few pages a second; two minutes is hundreds of pages.
	DefaultConvertTimeout = 2 * time.Minute
	// Jobs received at once, all listeners together: each is held in memory up to MaxSize.
	// Further connections wait in the listen queue, as they would for a busy printer.
	DefaultMaxJobs = 4
)

// Listener is one printer: a TCP address and the input its jobs belong to.
type Listener struct {
	Addr  string // host:port, e.g. 127.0.0.1:9100
	Input string // the configuration's input id
}

// Job is one received document, ready to be handed to the bridge.
type Job struct {
	Input   string
	Name    string // file name; its extension is the format: .pdf, .ps, .txt or .bin
	Data    []byte
	JobName string // from the PJL envelope or the PostScript header; may be empty
	User    string // the user who printed, likewise
	Format  Format // of Data
	// Note says, in French for the person reviewing the job, why a document is not a PDF
	// (Ghostscript missing, conversion failed, unknown format); empty for a PDF.
	Note   string
	Remote string // the client's address
}

// SubmitFunc stores a job and returns its id. It is called once per received document.
type SubmitFunc func(ctx context.Context, j Job) (string, error)

// Options configure the listeners. Zero values take the defaults.
type Options struct {
	Listeners      []Listener
	Submit         SubmitFunc
	Logger         *slog.Logger
	MaxSize        int64
	IdleTimeout    time.Duration // longest silence between two reads
	JobTimeout     time.Duration // longest time to receive one job
	ConvertTimeout time.Duration
	MaxJobs        int
	// Ghostscript is the program converting PostScript; empty: looked for at each job
	// (FindGhostscript), so installing it later needs no restart.
	Ghostscript string
}

// Server is the running listeners.
type Server struct {
	o     Options
	log   *slog.Logger
	lns   []net.Listener
	slots chan struct{}
	wg    sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Start binds every listener (all or none: an address already in use is an error at start,
// not a silent missing printer) and serves until ctx ends; then it closes the listeners and
// any connection still being received. Wait waits for that to finish.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Submit == nil {
		return nil, errors.New("printer: no SubmitFunc")
	}
	if len(o.Listeners) == 0 {
		return nil, errors.New("printer: no listener")
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	if o.ConvertTimeout <= 0 {
		o.ConvertTimeout = DefaultConvertTimeout
	}
	if o.MaxJobs <= 0 {
		o.MaxJobs = DefaultMaxJobs
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{o: o, log: log, slots: make(chan struct{}, o.MaxJobs), conns: map[net.Conn]struct{}{}}
	seen := map[string]bool{}
	for _, l := range o.Listeners {
		if l.Addr == "" || l.Input == "" {
			s.closeAll()
			return nil, fmt.Errorf("printer: a listener needs an address and an input (%q, %q)", l.Addr, l.Input)
		}
		if seen[l.Addr] && !strings.HasSuffix(l.Addr, ":0") {
			s.closeAll()
			return nil, fmt.Errorf("printer: %s is given twice", l.Addr)
		}
		seen[l.Addr] = true
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", l.Addr)
		if err != nil {
			s.closeAll()
			return nil, fmt.Errorf("printer: listen on %s: %w", l.Addr, err)
		}
		s.lns = append(s.lns, ln)
	}
	for i, ln := range s.lns {
		l := o.Listeners[i]
		log.Info("print listener ready", "addr", ln.Addr().String(), "input", l.Input)
		s.wg.Add(1)
		go s.accept(ctx, ln, l)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		s.closeAll()
	}()
	return s, nil
}

// Addrs are the bound addresses, in the order of Options.Listeners (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.lns))
	for i, ln := range s.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Wait returns once the context has ended and every connection is closed.
func (s *Server) Wait() { s.wg.Wait() }

func (s *Server) closeAll() {
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *Server) accept(ctx context.Context, ln net.Listener, l Listener) {
	defer s.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		// Take a slot before accepting: a busy bridge leaves new jobs in the listen queue.
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, err := ln.Accept()
		if err != nil {
			<-s.slots
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, as net/http does.
			s.log.Warn("print listener: accept failed", "addr", l.Addr, "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			<-s.slots
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(ctx, c, l)
		}()
	}
}

// Errors of a job that is not taken.
var (
	errTooBig  = errors.New("over the size limit")
	errIdle    = errors.New("the client stopped sending")
	errTooLong = errors.New("the job took too long to arrive")
)

func (s *Server) handle(ctx context.Context, c net.Conn, l Listener) {
	remote := c.RemoteAddr().String()
	defer func() {
		// Parse is fuzzed and has no known panic; this keeps one bad stream from taking the
		// whole bridge down if one is ever found.
		if r := recover(); r != nil {
			s.log.Error("print job: internal error, job dropped", "input", l.Input, "remote", remote,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			reset(c)
		}
	}()
	start := time.Now()
	data, err := s.receive(c)
	if err != nil {
		if ctx.Err() != nil {
			s.log.Warn("print job interrupted: the bridge is stopping; the spooler will send it again",
				"input", l.Input, "remote", remote, "bytes", len(data))
			reset(c)
			return
		}
		st := Parse(data[:min(len(data), maxHeader)])
		s.log.Error("print job refused: "+err.Error(), "input", l.Input, "remote", remote,
			"bytes", len(data), "limit", s.o.MaxSize, "user", st.User, "after", time.Since(start).Round(time.Millisecond).String())
		reset(c)
		return
	}
	st := Parse(data)
	if st.Empty {
		// A port probe, or PJL status queries (Windows' port monitor, printer discovery).
		s.log.Debug("print connection without a document", "input", l.Input, "remote", remote, "bytes", len(data))
		return
	}
	j := s.prepare(ctx, st, data, l.Input)
	j.Remote = remote
	id, err := s.o.Submit(ctx, j)
	if err != nil {
		s.log.Error("print job not stored", "input", l.Input, "remote", remote, "user", j.User, "err", err)
		reset(c)
		return
	}
	s.log.Info("print job received", "job", id, "input", l.Input, "remote", remote, "user", j.User,
		"format", j.Format.String(), "bytes", len(j.Data), "took", time.Since(start).Round(time.Millisecond).String())
	if j.Note != "" {
		s.log.Warn("print job is not a PDF", "job", id, "note", j.Note)
	}
}

// prepare turns a parsed stream into the job handed over: PostScript converted when it can be.
func (s *Server) prepare(ctx context.Context, st Stream, raw []byte, input string) Job {
	j := Job{Input: input, JobName: st.JobName, User: st.User, Format: st.Format, Data: st.Body}
	switch st.Format {
	case PostScript:
		gs := s.o.Ghostscript
		var err error
		if gs == "" {
			gs, err = FindGhostscript()
		}
		if err != nil {
			j.Note = "Document PostScript reçu de l'imprimante : Ghostscript n'est pas installé sur ce poste pour le convertir en PDF"
			break
		}
		pdf, err := toPDF(ctx, gs, st.Body, s.o.ConvertTimeout, s.o.MaxSize)
		if err != nil {
			s.log.Warn("PostScript print job: conversion to PDF failed", "input", input, "err", err)
			j.Note = "Document PostScript reçu de l'imprimante que Ghostscript n'a pas pu convertir en PDF : " + err.Error()
			break
		}
		j.Data, j.Format = pdf, PDF
	case Text:
		// A "Text Only" driver, a raw queue, or our CUPS queue given a text file: laid out as a
		// PDF with an exact text layer, so the tags the software printed are read.
		pdf, err := TextToPDF(st.Body)
		if err != nil {
			s.log.Warn("text print job: not laid out as a PDF", "input", input, "err", err)
			j.Note = fmt.Sprintf("Texte reçu de l'imprimante trop long pour être mis en page (plus de %d pages)", textMaxPages)
			break
		}
		j.Data, j.Format = pdf, PDF
	case Unknown:
		j.Data = raw
		lang := st.Language
		if lang == "" {
			lang = sniff(raw)
		}
		j.Note = "Impression reçue dans un format qui n'est ni PDF ni PostScript (" + lang + ") : choisissez le pilote « PDF » pour cette imprimante"
	}
	j.Name = FileName(j.JobName, j.Format)
	return j
}

// sniff names a few formats a misconfigured queue sends, for the reason shown to people.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x1bE")) || bytes.HasPrefix(b, []byte("\x1b%-12345X")):
		return "PCL"
	case bytes.HasPrefix(b, []byte("RaS2")) || bytes.HasPrefix(b, []byte("3SaR")):
		return "raster CUPS"
	case bytes.HasPrefix(b, []byte("\x89PNG")), bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image"
	}
	text := true
	for _, c := range b[:min(len(b), 512)] {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			text = false
			break
		}
	}
	if text {
		return "texte brut"
	}
	return "inconnu"
}

// receive reads one job to its end: the read deadline moves forward with each chunk (a stalled
// client is dropped after IdleTimeout of silence) but never past JobTimeout from the start (a
// slow drip is dropped too).
func (s *Server) receive(c net.Conn) ([]byte, error) {
	hard := time.Now().Add(s.o.JobTimeout)
	var buf bytes.Buffer
	chunk := make([]byte, 64<<10)
	for {
		d := time.Now().Add(s.o.IdleTimeout)
		if d.After(hard) {
			d = hard
		}
		if err := c.SetReadDeadline(d); err != nil {
			return buf.Bytes(), err
		}
		n, err := c.Read(chunk)
		if n > 0 {
			if int64(buf.Len())+int64(n) > s.o.MaxSize {
				buf.Write(chunk[:min(n, int(s.o.MaxSize)-buf.Len())])
				return buf.Bytes(), fmt.Errorf("%w (%d bytes)", errTooBig, s.o.MaxSize)
			}
			buf.Write(chunk[:n])
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return buf.Bytes(), nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if !time.Now().Before(hard) {
				return buf.Bytes(), fmt.Errorf("%w (%s)", errTooLong, s.o.JobTimeout)
			}
			return buf.Bytes(), fmt.Errorf("%w (%s without data)", errIdle, s.o.IdleTimeout)
		default:
			return buf.Bytes(), err
		}
	}
}

// reset closes with a TCP reset rather than a clean end, so the client sees an error and its
// spooler keeps the job instead of thinking it printed.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
