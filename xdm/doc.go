// Package xdm builds and reads what MSSanté software exchanges so that a received PDF files
// itself in the right patient record: a CDA R2 level-1 ("N1") ClinicalDocument wrapping the
// PDF, and the IHE XDM package (IHE_XDM.ZIP) that carries it with its XDS metadata.
//
// The send side:
//
//	cda, err := xdm.BuildCDA(doc)     // DOC0001.XML alone
//	zip, err := xdm.BuildXDM(pkg)     // IHE_XDM.ZIP: INDEX.HTM, README.TXT, IHE_XDM/SUBSET01/…
//
// The receive side reads back exactly what the send side wrote:
//
//	pkg, err := xdm.ParseXDM(zip)     // metadata cross-checked against the CDA (patient, id, hash, size)
//	doc, err := xdm.ParseCDA(cda)
//
// The CDA header follows the ANS "structuration minimale" rules for a non-structured
// document (the three templateIds of an N1 document, INS of the patient with its OID and
// the INS traits, author identified by 8+RPPS, custodian by its national structure id,
// legalAuthenticator, documentationOf/serviceEvent, componentOf/encompassingEncounter) and
// validates against CDA_extended.xsd. The metadata is an ebRIM 3.0 SubmitObjectsRequest
// with one submission set, one document entry and their HasMember association, using the
// stable XDS UUIDs of IHE ITI TF-3 §4.2.5 and the French codes of the CI-SIS. Every code
// system and scheme used is a named constant in codes.go, with its source.
//
// ParseXDM works in memory only and refuses hostile archives: unsafe entry names (.., absolute
// paths, backslashes, drive letters), duplicates, links, more than MaxEntries entries,
// declared or actual sizes beyond MaxEntrySize per entry or MaxTotalSize in all.
//
// Errors are in French: they end up in the reasons a secretary reads. Test them with
// errors.Is against the Err… values.
package xdm
