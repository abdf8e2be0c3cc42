package mail

import (
	"encoding/base64"
	"strings"
)

func decodeBase64(b []byte) ([]byte, error) {
	s := strings.NewReplacer("\r", "", "\n", "").Replace(string(b))
	return base64.StdEncoding.DecodeString(s)
}
