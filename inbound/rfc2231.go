package inbound

import (
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
)

// rfc2231 returns the decoded value of an extended parameter (name*=… or name*0*=…), or "".
func rfc2231(raw, name string) string {
	type seg struct {
		n       int
		encoded bool
		value   string
	}
	var segs []seg
	for _, p := range splitParams(raw) {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !strings.HasPrefix(k, name+"*") {
			continue
		}
		rest := strings.TrimPrefix(k, name+"*")
		s := seg{encoded: strings.HasSuffix(rest, "*") || rest == ""}
		rest = strings.TrimSuffix(rest, "*")
		if rest != "" {
			n, err := strconv.Atoi(rest)
			if err != nil {
				continue
			}
			s.n = n
		}
		if strings.HasPrefix(v, `"`) {
			v = strings.Trim(v, `"`)
			if k == name+"*" {
				s.encoded = true
			}
		}
		s.value = v
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return ""
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
	charset := "utf-8"
	var raw8 []byte
	for i, s := range segs {
		v := s.value
		if s.encoded {
			if i == 0 {
				parts := strings.SplitN(v, "'", 3)
				if len(parts) == 3 {
					if parts[0] != "" {
						charset = parts[0]
					}
					v = parts[2]
				}
			}
			if dec, err := url.PathUnescape(v); err == nil {
				v = dec
			}
		}
		raw8 = append(raw8, v...)
	}
	r, err := message.CharsetReader(strings.ToLower(charset), strings.NewReader(string(raw8)))
	if err != nil {
		return string(raw8)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return string(raw8)
	}
	return string(out)
}

// splitParams splits "attachment; a=1; b=\"x;y\"" on the semicolons outside quotes.
func splitParams(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == '\\' && inQuote && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case c == ';' && !inQuote:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	out = append(out, cur.String())
	return out
}
