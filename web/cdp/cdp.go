// Package cdp drives a headless Chromium through the DevTools protocol over a pipe
// (--remote-debugging-pipe: commands on fd 3, replies on fd 4, each message ended by a NUL),
// so that the desk's browser tests need nothing beyond the standard library and Debian's
// chromium package. It knows the handful of commands the tests use: navigate, evaluate,
// type, press a key, take a screenshot.
package cdp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Browser is a running Chromium with one page.
type Browser struct {
	cmd     *exec.Cmd
	in      *os.File // our end of Chromium's fd 3
	out     *os.File // our end of Chromium's fd 4
	dataDir string
	session string

	mu      sync.Mutex
	nextID  int
	pending map[int]chan reply
	closed  chan struct{}
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Find returns Chromium's path: $CHROMIUM, else chromium or chromium-browser on PATH.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on this machine (apt-get install chromium)")
}

// Launch starts a headless Chromium with a fresh profile and opens one page of the given
// size. The flags keep it from reaching the network on its own (this machine has none).
func Launch(ctx context.Context, path string, width, height int) (*Browser, error) {
	dataDir, err := os.MkdirTemp("", "mssbridge-chromium-")
	if err != nil {
		return nil, err
	}
	cmdR, cmdW, err := os.Pipe() // we write commands, Chromium reads fd 3
	if err != nil {
		return nil, err
	}
	resR, resW, err := os.Pipe() // Chromium writes fd 4, we read
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions-except=", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir="+dataDir, "--remote-debugging-pipe", "--lang=fr-FR",
		fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, resW}
	cmd.Env = append(os.Environ(), "LANG=fr_FR.UTF-8", "LANGUAGE=fr") // French dates in <input type=date>
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	cmdR.Close()
	resW.Close()
	b := &Browser{cmd: cmd, in: cmdW, out: resR, dataDir: dataDir, pending: map[int]chan reply{}, closed: make(chan struct{})}
	go b.readLoop()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		b.Close()
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		b.Close()
		return nil, err
	}
	b.session = att.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable"} {
		if err := b.Call(ctx, m, nil, nil); err != nil {
			b.Close()
			return nil, err
		}
	}
	// Dates and numbers as a French workstation shows them (best effort: older builds lack it).
	b.Call(ctx, "Emulation.setLocaleOverride", map[string]any{"locale": "fr-FR"}, nil)
	if err := b.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Browser) readLoop() {
	defer close(b.closed)
	r := bufio.NewReaderSize(b.out, 1<<20)
	for {
		msg, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		msg = msg[:len(msg)-1]
		var m struct {
			ID int `json:"id"`
			reply
		}
		if json.Unmarshal(msg, &m) != nil || m.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.reply
		}
	}
}

func (b *Browser) call(ctx context.Context, session, method string, params any, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-b.closed:
		return fmt.Errorf("%s: chromium exited", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Call sends a command to the page.
func (b *Browser) Call(ctx context.Context, method string, params any, result any) error {
	return b.call(ctx, b.session, method, params, result)
}

// Eval evaluates a JavaScript expression in the page (promises awaited) into out.
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("javascript: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// Navigate opens url and waits for the page to be loaded.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	if err := b.Call(ctx, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return err
	}
	return b.WaitFor(ctx, "location.href === "+jsString(url)+" && document.readyState === 'complete'")
}

// WaitFor polls a JavaScript condition until it is true (10 s at most).
func (b *Browser) WaitFor(ctx context.Context, cond string) error {
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		var ok bool
		if err := b.Eval(ctx, "(function(){try{return !!("+cond+")}catch(e){return false}})()", &ok); err == nil && ok {
			return nil
		} else if err != nil {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("waited 10 s for %s (%v)", cond, last)
}

// WaitLoaded waits until the page at a path other than from is loaded, after a click or a
// key that navigates.
func (b *Browser) WaitLoaded(ctx context.Context, pathPrefix string) error {
	return b.WaitFor(ctx, "location.pathname.startsWith("+jsString(pathPrefix)+") && document.readyState === 'complete'")
}

// Type inserts text where the focus is, as typing would.
func (b *Browser) Type(ctx context.Context, text string) error {
	return b.Call(ctx, "Input.insertText", map[string]any{"text": text}, nil)
}

// keys are the named keys Press knows, with their Windows virtual key codes.
var keys = map[string]struct {
	code string
	vk   int
	text string
}{
	"Enter": {"Enter", 13, "\r"}, "Escape": {"Escape", 27, ""}, "Tab": {"Tab", 9, ""},
	"ArrowDown": {"ArrowDown", 40, ""}, "ArrowUp": {"ArrowUp", 38, ""}, "Backspace": {"Backspace", 8, ""},
}

// Press presses and releases one key: a named key ("Enter", "Escape", "Tab", arrows) or a
// single character ("r", "/", "j").
func (b *Browser) Press(ctx context.Context, key string) error {
	down := map[string]any{"type": "keyDown", "key": key}
	if k, ok := keys[key]; ok {
		down["code"], down["windowsVirtualKeyCode"], down["nativeVirtualKeyCode"] = k.code, k.vk, k.vk
		if k.text != "" {
			down["text"] = k.text
		}
	} else {
		if len([]rune(key)) != 1 {
			return fmt.Errorf("unknown key %q", key)
		}
		down["text"] = key
		up := strings.ToUpper(key)
		if up[0] >= 'A' && up[0] <= 'Z' {
			down["code"], down["windowsVirtualKeyCode"] = "Key"+up, int(up[0])
		}
	}
	if err := b.Call(ctx, "Input.dispatchKeyEvent", down, nil); err != nil {
		return err
	}
	upEv := map[string]any{"type": "keyUp", "key": key}
	for _, k := range []string{"code", "windowsVirtualKeyCode", "nativeVirtualKeyCode"} {
		if v, ok := down[k]; ok {
			upEv[k] = v
		}
	}
	return b.Call(ctx, "Input.dispatchKeyEvent", upEv, nil)
}

// Screenshot writes a PNG of the page as it is shown.
func (b *Browser) Screenshot(ctx context.Context, path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := b.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// ClearCookies logs the browser out of everything.
func (b *Browser) ClearCookies(ctx context.Context) error {
	return b.Call(ctx, "Network.clearBrowserCookies", nil, nil)
}

// Close stops Chromium and removes its profile.
func (b *Browser) Close() error {
	b.in.Close()
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	b.out.Close()
	return os.RemoveAll(b.dataDir)
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}
