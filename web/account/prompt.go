package account

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadPassword asks for a password. On a terminal it does not echo what is typed and asks
// twice when confirm is set; from a pipe (a script, a test) it reads one line.
func ReadPassword(in *os.File, out io.Writer, prompt string, confirm bool) (string, error) {
	if !isTerminal(in) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	pw, err := readHidden(in, out, prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := readHidden(in, out, "Confirmez le mot de passe : ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the two passwords differ")
		}
	}
	return pw, nil
}

func readHidden(in *os.File, out io.Writer, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	restore, err := noEcho(in)
	if err != nil {
		return "", fmt.Errorf("terminal: %w", err)
	}
	line, rerr := readLine(in)
	restore()
	fmt.Fprintln(out)
	if rerr != nil {
		return "", rerr
	}
	return line, nil
}

// readLine reads byte by byte up to the newline, so nothing after it is swallowed by a buffer.
func readLine(in io.Reader) (string, error) {
	var b []byte
	var c [1]byte
	for {
		n, err := in.Read(c[:])
		if n == 1 {
			switch c[0] {
			case '\n':
				return strings.TrimRight(string(b), "\r"), nil
			case 3: // Ctrl-C with the terminal in a raw-ish mode
				return "", errors.New("interrupted")
			}
			b = append(b, c[0])
			if len(b) > 4096 {
				return "", errors.New("line too long")
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				return string(b), nil
			}
			return "", err
		}
	}
}
