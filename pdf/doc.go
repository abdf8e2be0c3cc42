// Package pdf reads what mssbridge needs from a PDF file: its structure and metadata (page
// count, encryption, Info dictionary, XMP) through pdfcpu, and its text layer with the
// position of each line through PDFium compiled to WebAssembly (go-pdfium's webassembly
// backend on wazero: pure Go, no cgo).
//
// pdfcpu cannot extract text, and PDFium cannot be trusted to say much about a broken file's
// structure, so each does what it does well. Neither repairs anything: a truncated, random or
// encrypted file is an error (ErrUnreadable, ErrEncrypted) that callers turn into a held
// document, never a panic.
package pdf

import "errors"

// Errors callers decide on. Both are wrapped with the detail; test them with errors.Is.
var (
	// ErrEncrypted: the document needs a user password to be opened.
	ErrEncrypted = errors.New("pdf: document protected by a password")
	// ErrUnreadable: the bytes are not a PDF either library can read (truncated, garbage,
	// empty, or damaged beyond what relaxed reading accepts).
	ErrUnreadable = errors.New("pdf: not a readable PDF")
	// ErrOverMemory: reading the document needed more memory than an instance may have
	// (ExtractorOptions.MemoryLimit), as a decompression bomb does. Such an error also
	// wraps ErrUnreadable.
	ErrOverMemory = errors.New("pdf: document needs more memory than allowed")
)
