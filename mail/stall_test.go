package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stallServer accepts connections and then says nothing (greet false), or greets and
// answers EHLO and STARTTLS, then stalls in the TLS handshake (greet true).
func stallServer(t *testing.T, greet bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			if !greet {
				continue
			}
			go func() {
				c.Write([]byte("220 stall ESMTP\r\n"))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
					case strings.HasPrefix(cmd, "EHLO"):
						c.Write([]byte("250-stall\r\n250 STARTTLS\r\n"))
					case cmd == "STARTTLS":
						c.Write([]byte("220 go ahead\r\n"))
						return // and never answer the TLS hello
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// A server that accepts the connection and never speaks, or stalls in the TLS handshake
// after STARTTLS, is given up after the endpoint's timeout (it held a send for go-smtp's
// 5-minute default before), as a temporary error.
func TestStalledServerTimesOut(t *testing.T) {
	for _, greet := range []bool{false, true} {
		addr := stallServer(t, greet)
		host, port, _ := net.SplitHostPort(addr)
		p := 0
		for _, c := range port {
			p = p*10 + int(c-'0')
		}
		cl := NewClient(Endpoint{Host: host, Port: p, Security: StartTLS, Timeout: 300 * time.Millisecond}, 1)
		t0 := time.Now()
		_, err := cl.Send(context.Background(), Envelope{From: "a@b.mssante.fr", To: []string{"c@d.mssante.fr"}, Data: []byte("x")})
		took := time.Since(t0)
		var e *Error
		if !errors.As(err, &e) || e.Class != Temporary {
			t.Errorf("greet=%v: err = %v, want a temporary error", greet, err)
		}
		if took > 3*time.Second {
			t.Errorf("greet=%v: gave up after %s with a 300 ms timeout", greet, took)
		}
		cl.Close()
	}
}

// A cancelled context ends a dial in progress at once.
func TestDialFollowsContext(t *testing.T) {
	addr := stallServer(t, false)
	host, port, _ := net.SplitHostPort(addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	cl := NewClient(Endpoint{Host: host, Port: p, Security: StartTLS, Timeout: time.Minute}, 1)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := cl.Send(ctx, Envelope{From: "a@b.mssante.fr", To: []string{"c@d.mssante.fr"}, Data: []byte("x")}); err == nil {
		t.Fatal("no error")
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("a cancelled send took %s", took)
	}
}

// Network failures are worded for a person, with the detail after.
func TestNetworkFailuresInFrench(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, "ne répond pas"},
		{context.DeadlineExceeded, "ne répond pas"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "refuse la connexion"},
		{io.EOF, "coupée"},
		{&net.DNSError{Err: "no such host", Name: "smtp.example"}, "introuvable"},
	} {
		e := &Error{Class: Temporary, Stage: "connect", Err: tc.err}
		if got := e.French(); !strings.Contains(got, tc.want) || !strings.HasPrefix(got, "Envoi différé") {
			t.Errorf("%v: French() = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
