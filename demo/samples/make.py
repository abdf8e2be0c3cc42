#!/usr/bin/env python3
"""Builds the demo's sample documents with Ghostscript (ps2pdf), as a PostScript printer
driver would. Everything is invented; INS keys are computed. Run: python3 make.py"""
import os, subprocess

HERE = os.path.dirname(os.path.abspath(__file__))

def nir_key(nir13):
    n = nir13.replace("2A", "19").replace("2B", "18")
    return "%02d" % (97 - int(n) % 97)

def esc(s):
    out = []
    for ch in s:
        if ch in "()\\":
            out.append("\\" + ch)
        elif ord(ch) > 126:
            out.append("\\%03o" % ch.encode("latin-1", "replace")[0])
        else:
            out.append(ch)
    return "".join(out)

PROLOG = """%!PS-Adobe-3.0
/reenc { findfont dup length dict begin { 1 index /FID ne { def } { pop pop } ifelse } forall
  /Encoding ISOLatin1Encoding def currentdict end definefont pop } def
/F /Helvetica /reenc load exec /FB /Helvetica-Bold /reenc load exec
"""

def make(name, lines):
    ps = os.path.join(HERE, name + ".ps")
    body = []
    y = 800
    for font, size, text, white in lines:
        color = "1 setgray" if white else "0 setgray"
        body.append(f"{color} /{font} findfont {size} scalefont setfont 56 {y} moveto ({esc(text)}) show")
        y -= size + 8
    with open(ps, "w", encoding="latin-1") as f:
        f.write(PROLOG + "\n".join(body) + "\nshowpage\n")
    subprocess.run(["ps2pdf", "-dPDFSETTINGS=/prepress", ps, os.path.join(HERE, name + ".pdf")], check=True)
    os.remove(ps)

LETTERHEAD = [("FB", 12, "Centre Hospitalier de Démonstration - Laboratoire de biologie", False),
              ("F", 9, "1 rue de l'Exemple, 69000 LYON - noreply-biologie@ch-demo.mssante.fr", False)]

ins = "2560369123045"; ins += nir_key(ins)
make("01-compte-rendu-balise", LETTERHEAD + [
    ("F", 11, "", False),
    ("FB", 13, "Compte rendu de biologie", False),
    ("F", 11, "Patiente : Mme DUPRÉ Jeanne Marie, née le 12/03/1956", False),
    ("F", 11, "Hémoglobine : 13,2 g/dL - Plaquettes : 250 G/L", False),
    ("F", 11, "Conclusion : bilan normal.", False),
    ("F", 6, "#MSS-TO: paul.mercier@medecin.mssante.fr", True),
    ("F", 6, f"#MSS-PATIENT: DUPRÉ|Jeanne Marie|1956-03-12|{ins}", True),
    ("F", 6, "#MSS-TITLE: Compte rendu de biologie", True),
])
make("02-lettre-sans-balise", LETTERHEAD + [
    ("F", 11, "Docteur Paul MERCIER", False),
    ("F", 11, "Lyon, le 20 novembre 2026", False),
    ("F", 11, "Cher confrère, je vous adresse les résultats de votre patient.", False),
])
make("03-hors-espace-de-confiance", LETTERHEAD + [
    ("FB", 13, "Résultats", False),
    ("F", 6, "#MSS-TO: dr.lambert@gmail.com", True),
    ("F", 6, f"#MSS-PATIENT: DUPRÉ|Jeanne Marie|1956-03-12|{ins}", True),
])
