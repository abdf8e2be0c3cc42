package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
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
	conf.Limits = inspectLimits(conf.Limits)
	return conf
}

// inspectLimits lowers pdfcpu's resource limits to what reading metadata needs. pdfcpu loads
// every stream of the file into memory and allows 512 MB per stream and 10 million objects by
// default: a 50 MB scan cost 50 MB more here, and a crafted cross-reference stream could ask
// for millions of table entries. The metadata lives in small objects; a document with a
// stream over 16 MiB (a scan) fails here with ErrUnreadable, and its text layer, read by
// PDFium, remains: only its Info dictionary is then unknown.
func inspectLimits(l model.ResourceLimits) model.ResourceLimits {
	const mib = 1 << 20
	l.MaxStreamBytes = min(l.MaxStreamBytes, 16*mib)
	l.MaxDecodeBytes = min(l.MaxDecodeBytes, 16*mib)
	l.MaxImageBytes = min(l.MaxImageBytes, 16*mib)
	// A 300-page report has a few thousand objects.
	l.MaxObjectCount = min(l.MaxObjectCount, 500_000)
	l.MaxXRefEntries = min(l.MaxXRefEntries, 500_000)
	l.MaxObjectStreamCount = min(l.MaxObjectStreamCount, 500_000)
	return l
}

// maxXMPBytes bounds the decoded XMP packet: one is a few kilobytes; a bigger one is not read.
const maxXMPBytes = 4 << 20

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

// MaxInspectBytes: pdfcpu reads every object of a file, streams included, into memory before
// it says anything; a 50 MB scan held 50 MB of live heap at once and made 100 MB of
// allocations, the largest part of the bridge's peak when it arrived beside other documents.
// A file this large is a scan: its metadata is not read (ErrNotInspected), its text layer,
// read page by page by PDFium, and its sidecar remain.
const MaxInspectBytes = 16 << 20

// ErrNotInspected: the file is over MaxInspectBytes, or holds more syntax than pdfcpu should
// be asked to parse (tooMuchSyntax); Inspect does not know its Info dictionary and XMP packet.
// The document itself may be perfectly readable, and PDFium reads its Info dictionary.
var ErrNotInspected = errors.New("pdf: file too large for its metadata to be read")

// InspectReader is Inspect for any io.ReadSeeker.
func InspectReader(rs io.ReadSeeker) (info Info, err error) {
	size, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	if size > MaxInspectBytes {
		return Info{}, fmt.Errorf("%w (%d MB)", ErrNotInspected, size>>20)
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	why, err := tooMuchSyntax(rs, maxNesting, maxTokens)
	if err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	if why != "" {
		return Info{}, fmt.Errorf("%w: %s", ErrNotInspected, why)
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	// pdfcpu turns its own internal failures into errors (fault.Catch) but re-panics anything
	// else, such as an index out of range on a damaged file: no file may bring mssbridge down.
	defer func() {
		if r := recover(); r != nil {
			info, err = Info{}, fmt.Errorf("%w: pdfcpu panicked: %v", ErrUnreadable, r)
		}
	}()
	// api.ReadAndValidate, in two steps: the validation inflates the catalog's XMP packet with
	// pdfcpu's fixed limit of 512 MiB, so a packet that does not inflate within ours is taken
	// out of the catalog in between (a 10 KB file made it allocate 2 GB).
	ctx, err := api.ReadContext(rs, pdfcpuConfig())
	if err == nil {
		defuseCatalogXMP(ctx.XRefTable)
		err = api.ValidateContext(ctx)
	}
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

// defuseCatalogXMP removes the catalog's /Metadata entry when its stream does not decode
// within maxXMPBytes: the document is then read as if it had no XMP packet.
func defuseCatalogXMP(x *model.XRefTable) {
	root, err := x.Catalog()
	if err != nil || root == nil {
		return
	}
	ref := root.IndirectRefEntry("Metadata")
	if ref == nil {
		return
	}
	// Looked up without DereferenceStreamDict, which marks the object validated: the
	// validation then dropped a sound packet.
	entry, ok := x.FindTableEntryForIndRef(ref)
	if !ok || entry.Free || entry.Object == nil {
		return
	}
	probe, ok := entry.Object.(types.StreamDict) // a copy: pdfcpu's own stays as it was read
	if !ok {
		return
	}
	probe.Content = nil
	if err := probe.DecodeWithLimit(maxXMPBytes); err != nil && !errors.Is(err, filter.ErrUnsupportedFilter) {
		delete(root, "Metadata")
	}
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
	// Decode would inflate up to pdfcpu's default of 512 MB: a metadata bomb.
	if err := sd.DecodeWithLimit(maxXMPBytes); err != nil {
		return ""
	}
	return string(sd.Content)
}
