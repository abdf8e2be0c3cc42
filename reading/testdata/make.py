#!/usr/bin/env python3
"""Builds the tagged PDFs (and sidecars) the reading package's tests read.

Needs Ghostscript (ps2pdf, gs) and groff. The outputs are committed, so the tests need
neither. Everything is invented; INS keys are computed (except where a case tests a wrong
one). Run from anywhere: ./make.py
"""
import json, os, subprocess, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def nir_key(nir13):
    n = nir13.replace("2A", "19").replace("2B", "18")
    return "%02d" % (97 - int(n) % 97)


def ins(nir13):
    return nir13 + nir_key(nir13)


INS_DUPONT = ins("2560375123456")   # DUPONT Marie Claire, 1956-03-12
INS_GIRARD = ins("2720969123045")   # GIRARD Lucie, 1972-09-09
INS_OTHER = ins("1850469123045")
BAD_INS = "1 39 08 2A 004 088 72"   # key should be 65

# PostScript with a Latin-1 re-encoding, as old clinical software prints (it turns '-' into
# U+2212 MINUS SIGN in the text layer: the reader must cope).
PROLOG = """%!PS-Adobe-3.0
/reenc { findfont dup length dict begin { 1 index /FID ne { def } { pop pop } ifelse } forall
  /Encoding ISOLatin1Encoding def currentdict end definefont pop } def
/F /Helvetica /reenc load exec /FB /Helvetica-Bold /reenc load exec /Fr /Times-Roman /reenc load exec
"""


def ps_escape(s):
    out = []
    for ch in s:
        if ch in "()\\":
            out.append("\\" + ch)
        elif ord(ch) > 126:
            out.append("\\%03o" % ch.encode("latin-1")[0])
        else:
            out.append(ch)
    return "".join(out)


def page(lines):
    """lines: (x, y, font, size, text[, gray]) — gray 1 is white."""
    out = []
    for ln in lines:
        x, y, font, size, text = ln[:5]
        gray = ln[5] if len(ln) > 5 else 0
        out.append(f"{gray} setgray /{font} findfont {size} scalefont setfont {x} {y} moveto ({ps_escape(text)}) show")
    return "\n".join(out) + "\nshowpage\n"


def letter(patient_line="Patiente : Mme DUPONT Marie Claire, née le 12/03/1956"):
    return [
        (56, 800, "FB", 12, "Centre Hospitalier de Valmont — Service de cardiologie".replace("—", "-")),
        (56, 786, "F", 9, "4 avenue des Tilleuls, 69400 Valmont-sur-Saône"),
        (56, 640, "FB", 11, "Compte rendu de consultation"),
        (56, 620, "F", 10, patient_line),
        (56, 590, "Fr", 11, "Cher confrère, j'ai revu votre patiente ce jour."),
        (56, 572, "Fr", 11, "L'examen est rassurant ; traitement inchangé."),
        (56, 500, "FB", 11, "Dr Hélène ROUSSEL"),
    ]


def ps2pdf(name, pages, pdfmark="", gs_args=()):
    with tempfile.TemporaryDirectory() as tmp:
        ps = os.path.join(tmp, "in.ps")
        with open(ps, "w", encoding="latin-1") as f:
            f.write(PROLOG + pdfmark + "".join(page(p) for p in pages))
        out = os.path.join(HERE, name)
        if gs_args:
            subprocess.run(["gs", "-q", "-dBATCH", "-dNOPAUSE", "-dSAFER", "-sDEVICE=pdfwrite",
                            *gs_args, "-sOutputFile=" + out, ps], check=True)
        else:
            subprocess.run(["ps2pdf", ps, out], check=True)


def pdfmark_docinfo(**kv):
    fields = " ".join(f"/{k} ({ps_escape(v)})" for k, v in kv.items())
    return f"[ {fields} /DOCINFO pdfmark\n"


def groff_pdf(name, source):
    with tempfile.TemporaryDirectory() as tmp:
        ps = os.path.join(tmp, "in.ps")
        with open(ps, "wb") as f:
            f.write(subprocess.run(["groff", "-Tps", "-Kutf8"], input=source.encode("utf-8"),
                                   capture_output=True, check=True).stdout)
        subprocess.run(["ps2pdf", ps, os.path.join(HERE, name)], check=True)


def sidecar(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


WHITE = 1


def main():
    # Tags in white 6-point text at the foot of the page: invisible on paper, in the text layer.
    ps2pdf("white-tags.pdf", [letter() + [
        (56, 40, "F", 6, "#MSS-TO: paul.mercier@medecin.mssante.fr", WHITE),
        (56, 32, "F", 6, f"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}", WHITE),
        (56, 24, "F", 6, "#MSS-TITLE: Compte rendu de consultation de cardiologie", WHITE),
    ]])

    # Tags on page 2 only, INS alone for the patient, a copy.
    ps2pdf("page2-tags.pdf", [letter(), [
        (56, 780, "Fr", 11, "Conclusion : fonction rénale stable."),
        (56, 100, "F", 7, "#MSS-TO: claire.benoit@medecin.mssante.fr"),
        (56, 90, "F", 7, "#MSS-CC: secretariat.neuro@chu-exemple.mssante.fr"),
        (56, 80, "F", 7, "#MSS-INS: " + " ".join([INS_DUPONT[0], INS_DUPONT[1:3], INS_DUPONT[3:5],
                                                   INS_DUPONT[5:7], INS_DUPONT[7:10], INS_DUPONT[10:13], INS_DUPONT[13:]])),
    ]])

    # Keys in lower and mixed case, spaces around the colon, two addresses, a box.
    ps2pdf("lowercase-spaces.pdf", [letter("Enfant ARNAUD Théo, né le 30/06/2015") + [
        (56, 60, "F", 8, "#mss-to : claire.benoit@medecin.mssante.fr , Secretariat.Neuro@CHU-Exemple.MSSante.fr"),
        (56, 50, "F", 8, "#Mss-Patient :ARNAUD|Théo|2015-06-30"),
        (56, 40, "F", 8, "#MSS-box:biologie"),
    ]])

    # A white tag at the height of the right-aligned date: PDFium makes one line of both.
    ps2pdf("tag-beside-date.pdf", [letter() + [
        (56, 760, "F", 7, "#MSS-TO: paul.mercier@medecin.mssante.fr", WHITE),
        (400, 760, "F", 10, "Valmont, le 20 novembre 2026"),
        (56, 40, "F", 7, f"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}", WHITE),
    ]])

    # Two tags on one printed line.
    ps2pdf("one-line-two-tags.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-TO: paul.mercier@medecin.mssante.fr #MSS-CC: claire.benoit@medecin.mssante.fr"),
        (56, 40, "F", 8, "#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12"),
    ]])

    # Malformed tags: each must hold the document.
    ps2pdf("bad-address.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-TO: x@"),
        (56, 40, "F", 8, "#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12"),
    ]])
    ps2pdf("bad-ins.pdf", [letter() + [
        (56, 60, "F", 8, "#MSS-TO: paul.mercier@medecin.mssante.fr"),
        (56, 50, "F", 8, "#MSS-PATIENT: FAURE|Bernard|1939-08-17"),
        (56, 40, "F", 8, "#MSS-INS: " + BAD_INS),
    ]])
    ps2pdf("bad-date.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-TO: paul.mercier@medecin.mssante.fr"),
        (56, 40, "F", 8, "#MSS-PATIENT: MARTIN|Paul|1985-02-30"),
    ]])
    ps2pdf("unknown-tag.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-T0: paul.mercier@medecin.mssante.fr"),
        (56, 40, "F", 8, f"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}"),
    ]])

    # A well-formed tag to an address outside the trust space.
    ps2pdf("out-of-trust.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-TO: dr.lambert@gmail.com"),
        (56, 40, "F", 8, f"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}"),
    ]])

    # Tags in the Info dictionary only (Keywords and Subject), written with pdfmark.
    ps2pdf("meta-keywords.pdf", [letter("Patiente : GIRARD Lucie, née le 09/09/1972")],
           pdfmark=pdfmark_docinfo(
               Keywords=f"#MSS-TO: paul.mercier@medecin.mssante.fr; #MSS-PATIENT: GIRARD|Lucie|1972-09-09|{INS_GIRARD}",
               Subject="#MSS-SUBJECT: Résultats de biologie", Title="Untitled"))

    # Tags in the text and in the metadata: the text wins field by field.
    ps2pdf("meta-and-tag.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-TO: paul.mercier@medecin.mssante.fr", WHITE),
        (56, 40, "F", 8, f"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}", WHITE),
    ]], pdfmark=pdfmark_docinfo(Keywords="MSS-TO: autre.medecin@medecin.mssante.fr; MSS-TITLE: Titre des métadonnées"))

    # No tags; a sidecar says everything.
    ps2pdf("sidecar-letter.pdf", [letter()])
    sidecar("sidecar-letter.json", {
        "patient": {"ins": INS_DUPONT, "family_name": "DUPONT", "given_names": "Marie Claire",
                    "birth_date": "1956-03-12", "sex": "F"},
        "recipients": [{"address": "paul.mercier@medecin.mssante.fr", "rpps": "10003456781",
                        "name": "Dr Paul MERCIER", "role": "to"},
                       {"address": "secretariat.neuro@chu-exemple.mssante.fr", "role": "cc"}],
        "document": {"title": "Compte rendu de consultation", "date": "2026-11-20"},
    })

    # Tags and sidecar disagree on the patient.
    ps2pdf("conflict.pdf", [letter() + [
        (56, 50, "F", 8, "#MSS-TO: paul.mercier@medecin.mssante.fr", WHITE),
        (56, 40, "F", 8, f"#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}", WHITE),
    ]])
    sidecar("conflict.json", {
        "patient": {"ins": INS_OTHER, "family_name": "DURAND", "given_names": "Paul", "birth_date": "1985-04-01"},
        "recipients": [{"address": "paul.mercier@medecin.mssante.fr", "role": "to"}],
    })

    # Typeset by groff (its own fonts, kerning and encoding), tags in white in the text flow.
    groff_pdf("groff-letter.pdf", f""".ps 11
.vs 14
.ft B
Centre hospitalier de Valmont \\(em Cardiologie
.ft R
.sp 2
Lyon, le 20 novembre 2026
.sp
Cher confrère,
.PP
J'ai revu en consultation votre patiente, Mme DUPONT Marie Claire, née le 12 mars 1956,
pour le suivi de sa fibrillation atriale. L'examen est rassurant.
.sp
.ps 6
\\m[white]#MSS-TO: paul.mercier@medecin.mssante.fr\\m[]
.br
\\m[white]#MSS-PATIENT: DUPONT|Marie Claire|1956-03-12|{INS_DUPONT}\\m[]
.br
\\m[white]#MSS-TITLE: Compte rendu de consultation\\m[]
""")

    # Protected by a user password; the tags inside cannot be read.
    ps2pdf("encrypted.pdf", [letter() + [(56, 50, "F", 8, "#MSS-TO: paul.mercier@medecin.mssante.fr")]],
           gs_args=("-sOwnerPassword=owner", "-sUserPassword=secret", "-dEncryptionR=3", "-dKeyLength=128"))

    print("INS_DUPONT", INS_DUPONT, "INS_GIRARD", INS_GIRARD, "INS_OTHER", INS_OTHER)


if __name__ == "__main__":
    main()
