package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/operator"
)

// peer is the SMTP server both the bridge and the bare client send to, and the way to check
// that what it accepted was really delivered.
type peer struct {
	name        string // postfix | operator
	description string
	host        string
	port        int // STARTTLS submission port
	caFile      string
	certFile    string
	keyFile     string
	box         string // the applicative box: MAIL FROM, bound to the client certificate

	// delivered waits until every Message-ID in ids reached rcpt's mailbox, or until the
	// deadline; it returns those that did not.
	delivered func(ctx context.Context, rcpt string, ids []string, deadline time.Time) ([]string, error)
	// drained waits until the peer's queue holds nothing more for addrs (Postfix); it returns
	// a description of what is left.
	drained func(ctx context.Context, addrs []string, deadline time.Time) (string, error)
	// expect is called before anything is sent to rcpt (Postfix: what its Maildir already
	// holds is not looked at).
	expect func(rcpt string)
	close  func()
}

// ---- the in-process loopback operator --------------------------------------------------------

func operatorPeer(ctx context.Context, dir string) (*peer, error) {
	var mu sync.Mutex
	got := map[string]bool{}
	op, err := operator.Start(ctx, operator.Options{
		Dir: filepath.Join(dir, "operator"),
		OnDeliver: func(d operator.Delivery) {
			mu.Lock()
			for _, to := range d.To {
				got[strings.ToLower(to)+" "+d.MessageID] = true
			}
			mu.Unlock()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start the loopback operator: %w", err)
	}
	box := "noreply-bench@ch-exemple.mssante.fr"
	cert, key, err := op.IssueClient(box)
	if err != nil {
		op.Close()
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(op.SMTPAddr)
	port, _ := strconv.Atoi(portStr)
	p := &peer{
		name:        "operator",
		description: "in-process loopback operator (package operator, go-smtp, mutual TLS, STARTTLS on " + op.SMTPAddr + "); it runs on the same 2 cores as the bridge",
		host:        host, port: port, caFile: op.CAFile(), certFile: cert, keyFile: key, box: box,
		close: func() { op.Close() },
	}
	p.delivered = func(ctx context.Context, rcpt string, ids []string, deadline time.Time) ([]string, error) {
		for {
			var missing []string
			mu.Lock()
			for _, id := range ids {
				if !got[strings.ToLower(rcpt)+" "+id] {
					missing = append(missing, id)
				}
			}
			mu.Unlock()
			if len(missing) == 0 || time.Now().After(deadline) {
				return missing, nil
			}
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return missing, err
			}
		}
	}
	p.drained = func(context.Context, []string, time.Time) (string, error) { return "nothing queued (in-memory)", nil }
	p.expect = func(string) {}
	return p, nil
}

// ---- Postfix, as set up by ci/postfix/setup.sh -----------------------------------------------

func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return env, nil
}

func postfixPeer(envPath string, keepMail bool) (*peer, error) {
	env, err := readEnvFile(envPath)
	if err != nil {
		return nil, fmt.Errorf("postfix env file (written by ci/postfix/setup.sh): %w", err)
	}
	for _, k := range []string{"CI_SMTP_HOST", "CI_SMTP_STARTTLS_PORT", "CI_BOX_ADDRESS", "CI_CA_FILE", "CI_CLIENT_CERT", "CI_CLIENT_KEY", "CI_MAILDIR_ROOT"} {
		if env[k] == "" {
			return nil, fmt.Errorf("%s: %s is missing", envPath, k)
		}
	}
	port, err := strconv.Atoi(env["CI_SMTP_STARTTLS_PORT"])
	if err != nil {
		return nil, fmt.Errorf("%s: CI_SMTP_STARTTLS_PORT: %w", envPath, err)
	}
	addr := net.JoinHostPort(env["CI_SMTP_HOST"], env["CI_SMTP_STARTTLS_PORT"])
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("Postfix is not listening on %s (run ci/postfix/setup.sh): %w", addr, err)
	}
	c.Close()
	version := "Postfix"
	if out, err := exec.Command("postconf", "-h", "mail_version").Output(); err == nil {
		version = "Postfix " + strings.TrimSpace(string(out))
	}
	root := env["CI_MAILDIR_ROOT"]
	m := &maildirs{root: root, seen: map[string]bool{}, keep: keepMail}
	p := &peer{
		name: "postfix",
		description: fmt.Sprintf("%s on %s, STARTTLS, client certificate required (ci/postfix/setup.sh); "+
			"each message is delivered to a Maildir under %s by a pipe(8) transport", version, addr, root),
		host: env["CI_SMTP_HOST"], port: port,
		caFile: env["CI_CA_FILE"], certFile: env["CI_CLIENT_CERT"], keyFile: env["CI_CLIENT_KEY"],
		box:   env["CI_BOX_ADDRESS"],
		close: func() {},
	}
	p.delivered = m.wait
	p.drained = postfixDrained
	p.expect = m.Snapshot
	return p, nil
}

// maildirs finds messages, by Message-ID, in the Maildirs ci/postfix/deliver-maildir.sh
// writes: ROOT/DOMAIN/LOCAL/new/.
type maildirs struct {
	root string
	keep bool // leave the benchmark's messages in place
	mu   sync.Mutex
	seen map[string]bool // files already looked at (or there before the benchmark)
	init map[string]bool // Maildirs whose existing files were recorded as seen
}

func (m *maildirs) dir(rcpt string) string {
	rcpt = strings.ToLower(rcpt)
	at := strings.LastIndexByte(rcpt, '@')
	return filepath.Join(m.root, rcpt[at+1:], rcpt[:at], "new")
}

// Snapshot records the files already in rcpt's Maildir, so that only new ones are read.
func (m *maildirs) Snapshot(rcpt string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.init == nil {
		m.init = map[string]bool{}
	}
	d := m.dir(rcpt)
	if m.init[d] {
		return
	}
	m.init[d] = true
	entries, _ := os.ReadDir(d)
	for _, e := range entries {
		m.seen[filepath.Join(d, e.Name())] = true
	}
}

func (m *maildirs) wait(ctx context.Context, rcpt string, ids []string, deadline time.Time) ([]string, error) {
	m.Snapshot(rcpt)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	d := m.dir(rcpt)
	for {
		entries, _ := os.ReadDir(d)
		m.mu.Lock()
		for _, e := range entries {
			path := filepath.Join(d, e.Name())
			if m.seen[path] {
				continue
			}
			id, err := messageIDOf(path)
			if err != nil {
				continue // being renamed away, or unreadable: looked at again next round
			}
			m.seen[path] = true
			if want[id] {
				delete(want, id)
				if !m.keep {
					os.Remove(path)
				}
			}
		}
		m.mu.Unlock()
		if len(want) == 0 || time.Now().After(deadline) {
			var missing []string
			for _, id := range ids {
				if want[id] {
					missing = append(missing, id)
				}
			}
			return missing, nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func messageIDOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	msg, err := mail.ReadMessage(bufio.NewReader(f))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(msg.Header.Get("Message-Id")), nil
}

// postfixDrained waits until Postfix's queue holds no message to or from addrs (the
// benchmark's recipient and box: the box receives the DSNs), and says what the queue holds.
func postfixDrained(ctx context.Context, addrs []string, deadline time.Time) (string, error) {
	watch := map[string]bool{}
	for _, a := range addrs {
		watch[strings.ToLower(a)] = true
	}
	for {
		out, err := exec.CommandContext(ctx, "postqueue", "-j").Output()
		if err != nil {
			return "postqueue -j failed: " + err.Error(), fmt.Errorf("cannot read Postfix's queue (postqueue -j: %v): is Postfix still running?", err)
		}
		total, ours := 0, 0
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			var q struct {
				Queue      string `json:"queue_name"`
				Sender     string `json:"sender"`
				Recipients []struct {
					Address string `json:"address"`
				} `json:"recipients"`
			}
			if json.Unmarshal(sc.Bytes(), &q) != nil {
				continue
			}
			total++
			mine := watch[strings.ToLower(q.Sender)]
			for _, r := range q.Recipients {
				mine = mine || watch[strings.ToLower(r.Address)]
			}
			if mine {
				ours++
			}
		}
		if ours == 0 {
			return fmt.Sprintf("queue drained (%d other message(s) in it)", total), nil
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%d benchmark message(s) still queued (of %d)", ours, total), fmt.Errorf("Postfix queue did not drain: %d benchmark message(s) still queued", ours)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return "", err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
