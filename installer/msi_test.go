package installer

import (
	"os"
	"testing"

	"github.com/mssbridge/mssbridge/config"
)

type anyFile struct{}

func (anyFile) FileReadable(string) error { return nil }

// The Windows example configuration the MSI installs is a valid configuration.
func TestWindowsExampleConfig(t *testing.T) {
	data, err := os.ReadFile("msi/mssbridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(`C:\ProgramData\mssbridge\mssbridge.yaml`, data, anyFile{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Printer == nil || cfg.Printer.Listen != "127.0.0.1:9100" || cfg.DataDir != `C:\ProgramData\mssbridge\data` {
		t.Errorf("printer %+v, data_dir %q", cfg.Printer, cfg.DataDir)
	}
}
