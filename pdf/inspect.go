package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// Info is what the file's structure says about itself.
type Info struct {
	Pages     int
	Encrypted bool // an encryption dictionary is present (opened with an empty user password)
	Version   string

	// Document information dictionary, as pdfcpu decodes it (when the XMP packet is newer than
	// the Info dictionary, pdfcpu prefers the XMP values).
	Title    string
	Subject  string
	Keywords string // raw, as written: tags may be inside
	Author   string
	Creator  string
	Producer string

	// XMP is the catalog's metadata stream (the XMP packet) as text, or "" when absent or
	// compressed with a filter pdfcpu does not decode.
	XMP string
}

var disableConfigDir sync.Once

// pdfcpuConfig returns a fresh configuration in relaxed validation mode. pdfcpu would
// otherwise create a configuration folder in the user's profile (a service account's profile
// on Windows) on first use: that is turned off once, before the first configuration.
func pdfcpuConfig() *model.Configuration {
	disableConfigDir.Do(api.DisableConfigDir)
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Cmd = model.LISTINFO
	return conf
}

// Inspect reads the structure and metadata of the PDF file at path. A file protected by a
// user password gives an error wrapping ErrEncrypted; one that cannot be read as a PDF, an
// error wrapping ErrUnreadable. Errors opening the file itself are returned as they are.
func Inspect(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	return InspectReader(f)
}

// InspectBytes is Inspect for a document already in memory.
func InspectBytes(b []byte) (Info, error) {
	return InspectReader(bytes.NewReader(b))
}

// InspectReader is Inspect for any io.ReadSeeker.
func InspectReader(rs io.ReadSeeker) (info Info, err error) {
	// pdfcpu turns its own internal failures into errors (fault.Catch) but re-panics anything
	// else, such as an index out of range on a damaged file: no file may bring mssbridge down.
	defer func() {
		if r := recover(); r != nil {
			info, err = Info{}, fmt.Errorf("%w: pdfcpu panicked: %v", ErrUnreadable, r)
		}
	}()
	ctx, err := api.ReadAndValidate(rs, pdfcpuConfig())
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) {
			return Info{Encrypted: true}, fmt.Errorf("%w: %v", ErrEncrypted, err)
		}
		return Info{}, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	x := ctx.XRefTable
	info = Info{
		Pages:     x.PageCount,
		Encrypted: x.Encrypt != nil,
		Title:     x.Title,
		Subject:   x.Subject,
		Keywords:  x.Keywords,
		Author:    x.Author,
		Creator:   x.Creator,
		Producer:  x.Producer,
		XMP:       catalogXMP(x),
	}
	if v := x.HeaderVersion; x.RootVersion != nil {
		info.Version = x.RootVersion.String()
	} else if v != nil {
		info.Version = v.String()
	}
	return info, nil
}

// catalogXMP returns the decoded catalog metadata stream, or "" when there is none or it
// cannot be decoded. A metadata stream that does not decode is not a reason to refuse the
// document: the Info dictionary and the text layer remain.
func catalogXMP(x *model.XRefTable) string {
	root, err := x.Catalog()
	if err != nil || root == nil {
		return ""
	}
	ref := root.IndirectRefEntry("Metadata")
	if ref == nil {
		return ""
	}
	sd, _, err := x.DereferenceStreamDict(*ref)
	if err != nil || sd == nil {
		return ""
	}
	if err := sd.Decode(); err != nil {
		return ""
	}
	return string(sd.Content)
}
