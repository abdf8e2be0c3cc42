package main
import (
 _ "github.com/klippa-app/go-pdfium/webassembly"
 _ "github.com/pdfcpu/pdfcpu/pkg/api"
 _ "github.com/emersion/go-imap/v2/imapclient"
 _ "github.com/emersion/go-imap/v2/imapserver/imapmemserver"
 _ "github.com/emersion/go-message/mail"
 _ "github.com/emersion/go-message/charset"
 _ "modernc.org/sqlite"
 _ "github.com/fsnotify/fsnotify"
 _ "github.com/kardianos/service"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/emersion/go-smtp"
)
func main(){}
