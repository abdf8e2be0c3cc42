// Command unitgen writes mssbridge's systemd unit for a package's fixed paths (the Debian
// package build runs it); "mssbridge service install" renders the same template for a
// configuration's folders.
//
//	go run ./installer/unitgen -exec /usr/bin/mssbridge -config /etc/mssbridge/mssbridge.yaml \
//	    -user mssbridge -rw /var/lib/mssbridge,/var/spool/mssbridge > mssbridge.service
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mssbridge/mssbridge/installer"
)

func main() {
	exe := flag.String("exec", "/usr/bin/mssbridge", "the installed binary")
	cfg := flag.String("config", "/etc/mssbridge/mssbridge.yaml", "the configuration file")
	user := flag.String("user", "mssbridge", "the account it runs as")
	rw := flag.String("rw", "/var/lib/mssbridge", "comma-separated folders it may write in")
	flag.Parse()
	unit, err := installer.RenderSystemdUnit(installer.Unit{
		Description: "mssbridge (passerelle MSSanté)", Exec: *exe,
		Args: []string{"run", "-c", *cfg}, User: *user,
		ReadWritePaths: strings.Split(*rw, ","), ReadPaths: []string{*cfg},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "unitgen:", err)
		os.Exit(1)
	}
	fmt.Print(unit)
}
