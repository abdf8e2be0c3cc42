package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mssbridge/mssbridge/safefile"
	"github.com/mssbridge/mssbridge/store"
	"github.com/mssbridge/mssbridge/trust"
)

// PrintInfo is what a print stream says about itself (PJL JOB NAME, USERNAME).
type PrintInfo struct {
	JobName string
	User    string
	// Note says in French why the print is not a PDF (PostScript without Ghostscript, PCL…);
	// it becomes the job's held or failed reason.
	Note string
}

// SubmitPrinted takes a document received by the print listener into the job store, as if it
// had been dropped into the input's folder, with the print job's name and user kept on the job
// (shown in status and held reasons, and recorded in the journal). name is a file name for the
// document (".pdf" for a PDF; another extension makes the job fail with a reason).
func (b *Bridge) SubmitPrinted(ctx context.Context, inputID, name string, data []byte, info PrintInfo) (string, error) {
	in, ok := b.cfg.Input(inputID)
	if !ok {
		return "", fmt.Errorf("print: unknown input %q", inputID)
	}
	box, _ := b.cfg.Box(in.Box)
	now := b.now()
	id := store.NewID(now)
	if name == "" || strings.ContainsAny(name, `/\`) {
		name = "impression.pdf"
	}
	sum := sha256.Sum256(data)
	j := store.Job{
		ID: id, Input: in.ID, Box: in.Box, SourceName: filepath.Base(name), State: store.StateClaiming,
		MessageID: store.NewMessageID(id, trust.Domain(box.Address)), CreatedAt: now,
		PrintJob: info.JobName, PrintUser: info.User, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)),
		LastError: info.Note,
	}
	if err := b.store.Create(ctx, j); err != nil {
		return "", fmt.Errorf("print job %s: %w", id, err)
	}
	if err := safefile.WriteFile(b.docPath(b.dirs.spool, j), data); err != nil {
		return "", fmt.Errorf("print job %s: %w", id, err)
	}
	j, err := b.store.Update(ctx, id, func(x *store.Job) error { x.State = store.StateClaimed; return nil })
	if err != nil {
		return "", err
	}
	b.log.Info("printed document claimed", "job", id, "input", in.ID, "bytes", len(data))
	if err := b.record(ctx, j, "claimed", map[string]string{"size": fmt.Sprint(len(data)), "via": "printer", "print_user": info.User}); err != nil {
		return id, err
	}
	b.signal()
	return id, nil
}
