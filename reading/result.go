// Package reading reads a claimed document the way a careful secretary does: the tags the
// clinical software printed into it, its PDF metadata, its sidecar and the letter itself (the
// patient's identity lines, the addressee block, the « Destinataire » and « Copie à » lines,
// resolved in the Annuaire Santé when a name or an RPPS is all the letter gives), and says
// who it is about, who it is for, and whether it can be sent without asking.
//
// What the software says (tags, metadata, sidecar) wins over what is read in the letter; the
// letter's recipients are used only when the software gave none. A recipient is read only
// where a secretary would read one, never from the letterhead, the signature or the
// structure's own addresses, and a name several professionals share is never guessed: the
// document is held with the candidates in the reason. reading/testdata/corpus holds the
// letters this is measured on (corpus_test.go).
package reading

// Source says where a field was read. The contract fixes these words.
type Source string

const (
	SourceTag       Source = "tag"
	SourceMetadata  Source = "metadata"
	SourceSidecar   Source = "sidecar"
	SourceText      Source = "text"
	SourceDirectory Source = "directory"
)

// Role of a recipient: the contract knows "to" and "cc".
type Role string

const (
	RoleTo Role = "to"
	RoleCc Role = "cc"
)

// Decision is what a careful secretary would do with the document.
type Decision string

const (
	DecisionSend Decision = "send"
	DecisionHold Decision = "hold"
)

// Patient is who the document is about. Unknown values are empty strings.
type Patient struct {
	INS         string `json:"ins"`
	INSKeyValid bool   `json:"ins_key_valid"`
	FamilyName  string `json:"family_name"`
	GivenNames  string `json:"given_names"`
	BirthDate   string `json:"birth_date"` // YYYY-MM-DD
	Sex         string `json:"sex"`        // F, M or empty
	// BirthPlace is the INSEE code (COG) of the birth commune, when the software gives it
	// (5th field of #MSS-PATIENT, or the sidecar): the ANS CDA rules want it with an INS.
	BirthPlace string `json:"birth_place,omitempty"`
}

// Recipient is one addressee of the document.
type Recipient struct {
	Address      string `json:"address"`
	RPPS         string `json:"rpps,omitempty"`
	Name         string `json:"name,omitempty"`
	Role         Role   `json:"role"`
	Source       Source `json:"source"`
	InTrustSpace bool   `json:"in_trust_space"`
}

// Document is what is known of the document itself.
type Document struct {
	Title   string `json:"title,omitempty"`
	Subject string `json:"subject,omitempty"`
	Date    string `json:"date,omitempty"` // YYYY-MM-DD
	Box     string `json:"box,omitempty"`  // #MSS-BOX: the box to send from, when the document says it
}

// Result is the contract's `extract --json` object, one per document.
type Result struct {
	File       string      `json:"file"`
	SHA256     string      `json:"sha256"`
	Pages      int         `json:"pages"`
	TextLayer  bool        `json:"text_layer"`
	Patient    Patient     `json:"patient"`
	Recipients []Recipient `json:"recipients"`
	Document   Document    `json:"document"`
	Decision   Decision    `json:"decision"`
	Reasons    []string    `json:"reasons"` // in French: a secretary reads them

	// Text is the normalised text layer, pages joined by form feeds. It is never printed by
	// extract nor logged; routing rules (text_contains) read it.
	Text string `json:"-"`
}

// ReasonNoRecipient is the hold reason when no recipient could be found; routing uses it too.
const ReasonNoRecipient = "Aucun destinataire trouvé"
