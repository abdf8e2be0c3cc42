#!/usr/bin/python3
"""Builds the reading corpus: untagged French clinical letters printed by three real PDF
generators, with what a careful secretary reads in each (truth.json) and the directory
extraction they are read against (annuaire.txt).

Generators:
  - LibreOffice (soffice --headless --convert-to pdf) from HTML: tables, flowing text;
  - Ghostscript (ps2pdf) from hand-placed PostScript with a Latin-1 re-encoding, as old
    clinical software prints (its text layer has U+2212 for '-');
  - ReportLab (Debian python3-reportlab), a PDF library many report generators use;
  - groff (-Tps, then ps2pdf) for a few plain letters.

Needs: libreoffice-writer-nogui, ghostscript, python3-reportlab, groff (Debian packages).
The PDFs are committed; the Go tests need none of this. Run: /usr/bin/python3 generate.py
Everything is invented; INS keys and RPPS check digits are computed.
"""
import html
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pdf")
random.seed(20261123)


# ---------------------------------------------------------------- identities

def nir_key(nir13):
    n = nir13.replace("2A", "19").replace("2B", "18")
    return "%02d" % (97 - int(n) % 97)


def make_ins(sex, y, m, dep, commune, order):
    nir = f"{sex}{y % 100:02d}{m:02d}{dep}{commune:03d}{order:03d}"
    return nir + nir_key(nir)


def spaced(ins):
    return " ".join([ins[0], ins[1:3], ins[3:5], ins[5:7], ins[7:10], ins[10:13], ins[13:15]])


def luhn_digit(s):
    total = 0
    for i, c in enumerate(reversed(s)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def rpps(n):
    base = "1000" + "%06d" % n
    return base + luhn_digit(base)


def patient(sex, fam, giv, d, m, y, dep="69", commune=123, order=45, ins_override=None):
    ins = ins_override or make_ins(1 if sex == "M" else 2, y, m, dep, commune, order)
    return {"ins": ins, "ins_key_valid": True, "family_name": fam, "given_names": giv,
            "birth_date": f"{y:04d}-{m:02d}-{d:02d}", "sex": sex}


def fr_date(p):
    y, m, d = p["birth_date"].split("-")
    return f"{d}/{m}/{y}"


MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]


def fr_word_date(p):
    y, m, d = p["birth_date"].split("-")
    day = "1er" if d == "01" else str(int(d))
    return f"{day} {MONTHS[int(m) - 1]} {y}"


# ---------------------------------------------------------------- directory

# (kind, address, rpps, civ, family, given, profession, specialty, structure, service, postcode, town)
PEOPLE = {
    "mercier": ("PER", "paul.mercier@medecin.mssante.fr", rpps(345678), "DR", "MERCIER", "Paul", "Médecin", "Médecine Générale", "Cabinet Mercier", "", "69003", "LYON"),
    "benoit": ("PER", "claire.benoit@medecin.mssante.fr", rpps(456789), "DR", "BENOIT", "Claire", "Médecin", "Médecine Générale", "Maison de santé des Pentes", "", "69001", "LYON"),
    "benoit2": ("PER", "claire.benoit2@medecin.mssante.fr", rpps(987654), "DR", "BENOIT", "Claire", "Médecin", "Pédiatrie", "Cabinet de pédiatrie du Prado", "", "13008", "MARSEILLE"),
    "martin_cardio": ("PER", "jean.martin@medecin.mssante.fr", rpps(111222), "DR", "MARTIN", "Jean", "Médecin", "Cardiologie et maladies vasculaires", "Cabinet de cardiologie du Parc", "", "69006", "LYON"),
    "martin_pneumo": ("PER", "jean.martin.pneumo@medecin.mssante.fr", rpps(111333), "DR", "MARTIN", "Jean", "Médecin", "Pneumologie", "Centre respiratoire de la Croix-Rousse", "", "69004", "LYON"),
    "martin_bdx": ("PER", "jean.martin.bdx@medecin.mssante.fr", rpps(111444), "DR", "MARTIN", "Jean", "Médecin", "Médecine Générale", "Cabinet des Chartrons", "", "33000", "BORDEAUX"),
    "legoff": ("PER", "yann.le-goff@medecin.mssante.fr", rpps(567890), "DR", "LE GOFF", "Yann", "Médecin", "Cardiologie et maladies vasculaires", "Cabinet de cardiologie de Recouvrance", "", "29200", "BREST"),
    "ndiaye": ("PER", "aminata.ndiaye@medecin.mssante.fr", rpps(678901), "DR", "N'DIAYE", "Aminata", "Médecin", "Néphrologie", "Centre de dialyse des Minguettes", "", "69200", "VENISSIEUX"),
    "roussel": ("PER", "helene.roussel@ch-valmont.mssante.fr", rpps(234501), "DR", "ROUSSEL", "Hélène", "Médecin", "Cardiologie et maladies vasculaires", "Centre Hospitalier de Valmont", "Cardiologie", "69400", "VALMONT-SUR-SAONE"),
    "morin": ("PER", "isabelle.morin@medecin.mssante.fr", rpps(222333), "DR", "MORIN", "Isabelle", "Médecin", "Gynécologie médicale", "Cabinet de gynécologie Jean-Macé", "", "69007", "LYON"),
    "chevalier": ("PER", "eric.chevalier@medecin.mssante.fr", rpps(333444), "DR", "CHEVALIER", "Éric", "Médecin", "Rhumatologie", "Cabinet de rhumatologie", "", "42000", "SAINT-ETIENNE"),
    "lambert": ("PER", "pierre.lambert@medecin.mssante.fr", rpps(444555), "DR", "LAMBERT", "Pierre", "Médecin", "Médecine Générale", "Cabinet des Gratte-Ciel", "", "69100", "VILLEURBANNE"),
    "petit_lyon": ("PER", "francois.petit@medecin.mssante.fr", rpps(555666), "DR", "PETIT", "François", "Médecin", "Endocrinologie-diabétologie-nutrition", "Cabinet d'endocrinologie Bellecour", "", "69002", "LYON"),
    "petit_lille": ("PER", "francois.petit.lille@medecin.mssante.fr", rpps(555777), "DR", "PETIT", "François", "Médecin", "Médecine Générale", "Cabinet de Wazemmes", "", "59000", "LILLE"),
    "garnier": ("PER", "luc.garnier@medecin.mssante.fr", rpps(666777), "DR", "GARNIER", "Luc", "Médecin", "Gastro-entérologie et hépatologie", "Cabinet de gastro-entérologie Voltaire", "", "75011", "PARIS"),
    "garnier2": ("PER", "nathalie.garnier@medecin.mssante.fr", rpps(666888), "DR", "GARNIER", "Nathalie", "Médecin", "Médecine Générale", "Cabinet du Vieux-Lille", "", "59800", "LILLE"),
    "fontaine": ("PER", "marc.fontaine@medecin.mssante.fr", rpps(777888), "DR", "FONTAINE", "Marc", "Médecin", "Radio-diagnostic", "Centre d'imagerie Saxe", "", "69003", "LYON"),
    "fontaine2": ("PER", "marc.fontaine2@medecin.mssante.fr", rpps(777999), "DR", "FONTAINE", "Marc", "Médecin", "Médecine Générale", "Cabinet Fontaine", "", "38000", "GRENOBLE"),
    "dubois_chu": ("PER", "anne.dubois@chu-valmont.mssante.fr", rpps(888999), "DR", "DUBOIS", "Anne", "Médecin", "Néphrologie", "CHU de Valmont", "Néphrologie", "69400", "VALMONT-SUR-SAONE"),
    "dubois_cab": ("PER", "anne.dubois@medecin.mssante.fr", rpps(888999), "DR", "DUBOIS", "Anne", "Médecin", "Néphrologie", "Cabinet de néphrologie du Rhône", "", "69003", "LYON"),
    "leroy_ide": ("PER", "sophie.leroy@infirmier.mssante.fr", rpps(313131), "MME", "LEROY", "Sophie", "Infirmier", "", "Cabinet infirmier Saxe", "", "69003", "LYON"),
    "bonnet": ("PER", "louise.bonnet@sagefemme.mssante.fr", rpps(999111), "MME", "BONNET", "Louise", "Sage-Femme", "", "Cabinet de sages-femmes", "", "69005", "LYON"),
    "neuro": ("ORG", "secretariat.neuro@chu-exemple.mssante.fr", "", "", "", "", "", "", "CHU Exemple - Neurologie", "Neurologie", "69500", "BRON"),
    "dialyse": ("ORG", "dialyse@ch-valmont.mssante.fr", "", "", "", "", "", "", "Centre Hospitalier de Valmont - Dialyse", "Dialyse", "69400", "VALMONT-SUR-SAONE"),
    "labo": ("ORG", "resultats@biovalmont.mssante.fr", "", "", "", "", "", "", "Laboratoire BioValmont", "", "69400", "VALMONT-SUR-SAONE"),
    "cardio_sec": ("ORG", "secretariat.cardio@ch-valmont.mssante.fr", "", "", "", "", "", "", "Centre Hospitalier de Valmont - Cardiologie", "Cardiologie", "69400", "VALMONT-SUR-SAONE"),
    "biologiste": ("PER", "marc.vidal@biovalmont.mssante.fr", rpps(121212), "DR", "VIDAL", "Marc", "Pharmacien", "Biologie médicale", "Laboratoire BioValmont", "", "69400", "VALMONT-SUR-SAONE"),
}

HEADER = ("Type de BAL|Adresse BAL|Type d'identifiant PP|Identifiant PP|Identification nationale PP|"
          "Type d'identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|"
          "Nom d'exercice|Prénom d'exercice|Catégorie professionnelle|Libellé catégorie professionnelle|"
          "Code profession|Libellé profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|"
          "Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION structure BAL|"
          "L3COMPLEMENTDISTRIBUTION structure BAL|L4NUMEROVOIE structure BAL|L4COMPLEMENTNUMEROVOIE structure BAL|"
          "L4TYPEVOIE structure BAL|L4LIBELLEVOIE structure BAL|L5LIEUDITMENTION structure BAL|"
          "L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL|Pays structure BAL")


def directory_file():
    rows = [HEADER]
    families = ["MARTIN", "BERNARD", "THOMAS", "ROBERT", "RICHARD", "DURAND", "MOREAU", "LAURENT", "SIMON",
                "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BOYER", "ROCHE"]
    givens = ["Pierre", "Sophie", "Luc", "Marc", "Julie", "Hugo", "Léa", "Camille", "Thomas", "Emma"]
    towns = [("69003", "LYON"), ("75011", "PARIS"), ("13008", "MARSEILLE"), ("33000", "BORDEAUX"), ("59000", "LILLE")]
    entries = list(PEOPLE.values())
    for i in range(300):
        fam, giv = random.choice(families), random.choice(givens)
        pc, town = random.choice(towns)
        addr = f"{giv.lower().replace('é', 'e')}.{fam.lower()}{i}@medecin.mssante.fr"
        entries.append(("PER", addr, rpps(100000 + i), "DR", fam, giv, "Médecin", "Médecine Générale", "Cabinet", "", pc, town))
    for kind, addr, rp, civ, fam, giv, prof, spec, struct, service, pc, town in entries:
        rows.append("|".join([kind, addr, "8" if rp else "", rp, ("8" + rp) if rp else "", "", "", service, civ, fam, giv,
                              "C" if rp else "", "Civil" if rp else "", "10" if prof == "Médecin" else ("21" if prof else ""),
                              prof, "", spec, random.choice("ON"), struct, "", "", "", "1", "", "R", "rue de la République", "",
                              f"{pc} {town}", pc, pc[:2], "FRANCE"]))
    with open(os.path.join(HERE, "annuaire.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")


def addr(key):
    return PEOPLE[key][1]


def rpps_of(key):
    return PEOPLE[key][2]


# ---------------------------------------------------------------- patients

PAT = {
    "dupre": patient("F", "DUPRÉ", "Jeanne Marie", 12, 3, 1956),
    "legoff": patient("M", "LE GOFF", "Yann-Erwan", 2, 11, 1948, dep="29", commune=19, order=7),
    "arnaud": patient("M", "ARNAUD", "Théo", 30, 6, 2015, commune=381, order=211),
    "morel": patient("F", "MOREL", "Alice", 5, 1, 1990, commune=266, order=12),
    "girard": patient("F", "GIRARD", "Lucie", 9, 9, 1972, commune=123, order=4),
    "faure": patient("M", "FAURE", "Bernard", 17, 8, 1939, dep="2A", commune=4, order=88),
    "santoni": patient("F", "SANTONI", "Maria", 3, 2, 1961, dep="2B", commune=33, order=150),
    "ndiaye": patient("F", "N'DIAYE", "Awa", 21, 4, 1985, dep="75", commune=111, order=342),
    "dupont": patient("F", "DUPONT", "Marie", 4, 7, 1950, commune=382, order=77),  # used name MARTIN
    "bernard": patient("M", "BERNARD", "Louis", 1, 3, 1950, commune=123, order=300),
    "nguyen": patient("M", "NGUYEN", "Van Minh", 15, 10, 1968, dep="69", commune=388, order=21),
    "rossi": patient("F", "ROSSI", "Chiara", 28, 2, 1999, dep="69", commune=123, order=512),
    "leclerc": patient("M", "LECLERC", "Jean-Baptiste", 11, 11, 1941, dep="69", commune=290, order=3),
    "petitjean": patient("F", "PETITJEAN", "Élodie", 7, 5, 1983, dep="42", commune=218, order=90),
    "haddad": patient("M", "HADDAD", "Karim", 19, 12, 1977, dep="13", commune=208, order=301),
    "bouvier": patient("F", "BOUVIER", "Anne-Laure", 23, 8, 1964, dep="69", commune=123, order=611),
    "moulin": patient("M", "MOULIN", "Gérard", 30, 1, 1933, dep="01", commune=53, order=14),
}


def bad_key(p):
    ins = p["ins"]
    wrong = ins[:13] + "%02d" % ((int(ins[13:]) + 11) % 97)
    return dict(p, ins=wrong, ins_key_valid=False)


def truth(name, p, recips, decision, why=None, own=None):
    t = {"file": name + ".pdf", "patient": p, "recipients": recips, "decision": decision}
    if why:
        t["why"] = why
    if own:
        t["own"] = own
    return t


def to(key_or_addr, **kw):
    a = PEOPLE[key_or_addr][1] if key_or_addr in PEOPLE else key_or_addr
    r = {"address": a, "role": "to"}
    r.update(kw)
    return r


def cc(key_or_addr):
    a = PEOPLE[key_or_addr][1] if key_or_addr in PEOPLE else key_or_addr
    return {"address": a, "role": "cc"}


# ---------------------------------------------------------------- text pieces

BODY = [
    "J'ai revu en consultation votre patient(e) pour le suivi de sa pathologie cardiaque.",
    "L'examen clinique est rassurant, la tension artérielle est à 128/76 mmHg.",
    "L'électrocardiogramme montre un rythme sinusal régulier, sans trouble de conduction.",
    "Je propose de poursuivre le traitement à l'identique et de revoir le patient dans six mois.",
    "Un bilan biologique de contrôle (ionogramme, créatinine) est à prévoir avant la prochaine visite.",
]

SENDER_CH = ["Centre Hospitalier de Valmont", "Service de cardiologie - Pr A. COSTE", "4 avenue des Tilleuls",
             "69400 Valmont-sur-Saône", "Tél. 04 72 00 00 00 - Fax 04 72 00 00 01"]
SIGN_ROUSSEL = ["Dr Hélène ROUSSEL", "Cardiologue - RPPS " + rpps_of("roussel")]


def patient_line(p, style="patiente"):
    civ = "Mme" if p["sex"] == "F" else "M."
    nee = "née" if p["sex"] == "F" else "né"
    if style == "patiente":
        lab = "Patiente" if p["sex"] == "F" else "Patient"
        return f"{lab} : {civ} {p['family_name']} {p['given_names']}, {nee} le {fr_date(p)}"
    if style == "civ":
        return f"{civ} {p['family_name']} {p['given_names']}, {nee} le {fr_date(p)}"
    if style == "concerne":
        return f"Concerne : {civ} {p['family_name']} {p['given_names']} ({nee} le {fr_date(p)})"
    raise ValueError(style)


# ---------------------------------------------------------------- Ghostscript (PostScript)

PS_PROLOG = """%!PS-Adobe-3.0
/reenc { findfont dup length dict begin { 1 index /FID ne { def } { pop pop } ifelse } forall
  /Encoding ISOLatin1Encoding def currentdict end definefont pop } def
/F /Helvetica /reenc load exec /FB /Helvetica-Bold /reenc load exec
/Fr /Times-Roman /reenc load exec /FI /Helvetica-Oblique /reenc load exec
"""

PS_SUBST = {"—": "-", "–": "-", "œ": "oe", "’": "'", "…": "..."}


def ps_escape(s):
    out = []
    for ch in s:
        ch = PS_SUBST.get(ch, ch)
        for c in ch:
            if c in "()\\":
                out.append("\\" + c)
            elif ord(c) > 126:
                out.append("\\%03o" % c.encode("latin-1", "replace")[0])
            else:
                out.append(c)
    return "".join(out)


def render_ps(name, pages):
    """pages: lists of (x, y_from_top, size, style, text); style: '', 'b', 'r' (serif), 'i'."""
    fonts = {"": "F", "b": "FB", "r": "Fr", "i": "FI"}
    body = [PS_PROLOG]
    for p in pages:
        for x, y, size, style, text in p:
            body.append(f"/{fonts[style]} findfont {size} scalefont setfont {x} {842 - y} moveto ({ps_escape(text)}) show")
        body.append("showpage")
    with tempfile.TemporaryDirectory() as tmp:
        ps = os.path.join(tmp, "in.ps")
        with open(ps, "w", encoding="latin-1", errors="replace") as f:
            f.write("\n".join(body) + "\n")
        subprocess.run(["ps2pdf", ps, os.path.join(OUT, name + ".pdf")], check=True)


# ---------------------------------------------------------------- ReportLab

def render_rl(name, pages, boxes=()):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    fonts = {"": "Helvetica", "b": "Helvetica-Bold", "r": "Times-Roman", "i": "Helvetica-Oblique"}
    c = canvas.Canvas(os.path.join(OUT, name + ".pdf"), pagesize=A4, invariant=1)
    c.setCreator("ReportLab")
    for i, p in enumerate(pages):
        for x, y, w, h in (boxes[i] if i < len(boxes) else []):
            c.rect(x, 842 - y - h, w, h)
        for x, y, size, style, text in p:
            c.setFont(fonts[style], size)
            c.drawString(x, 842 - y, text)
        c.showPage()
    c.save()


# ---------------------------------------------------------------- LibreOffice (HTML)

LO_STYLE = """<style>
body { font-family: 'Liberation Sans'; font-size: 10pt; }
td { vertical-align: top; font-size: 10pt; }
p { margin-top: 0; margin-bottom: 4pt; }
.small { font-size: 8pt; }
.serif { font-family: 'Liberation Serif'; font-size: 11pt; }
table.grid td { border: 1px solid #000; padding: 2pt; }
</style>"""

LO_PENDING = []  # (name, html)


def lo_doc(name, body):
    LO_PENDING.append((name, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + name + "</title>" +
                       LO_STYLE + "</head><body>" + body + "</body></html>"))


def render_lo_all():
    if not LO_PENDING:
        return
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, doc in LO_PENDING:
            path = os.path.join(tmp, name + ".html")
            with open(path, "w", encoding="utf-8") as f:
                f.write(doc)
            files.append(path)
        profile = os.path.join(tmp, "profile")
        subprocess.run(["soffice", "-env:UserInstallation=file://" + profile, "--headless", "--convert-to",
                        "pdf:writer_web_pdf_Export", "--outdir", OUT] + files,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def e(s):
    return html.escape(s)


def br(lines):
    return "<br>".join(e(x) for x in lines)


def paras(lines, cls="serif"):
    return "".join(f'<p class="{cls}">{e(x)}</p>' for x in lines)


# ---------------------------------------------------------------- groff

def render_groff(name, source):
    with tempfile.TemporaryDirectory() as tmp:
        ps = os.path.join(tmp, "in.ps")
        with open(ps, "wb") as f:
            f.write(subprocess.run(["groff", "-Tps", "-Kutf8"], input=source.encode("utf-8"),
                                   capture_output=True, check=True).stdout)
        subprocess.run(["ps2pdf", ps, os.path.join(OUT, name + ".pdf")], check=True)


# ---------------------------------------------------------------- positioned letters (PS, ReportLab)

def stack(x, y, lines, size=10, style="", lead=None):
    lead = lead or size + 3
    return [(x, y + i * lead, size, style, t) for i, t in enumerate(lines)]


def wrap(text, width=88):
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = (cur + " " + w).strip()
    if cur:
        lines.append(cur)
    return lines


def positioned_letter(head=SENDER_CH, block=None, block_x=330, block_y=130, date="Valmont, le 20 novembre 2026",
                      objet="Compte rendu de consultation", patient_lines=(), salutation="Cher confrère,",
                      body=BODY[:3], closing="Bien confraternellement,", signature=SIGN_ROUSSEL, after=(),
                      labelled=(), footer=(), top=50):
    """A one-page letter as (x, y_from_top, size, style, text) items."""
    items = stack(56, top, head[:1], 12, "b") + stack(56, top + 15, head[1:], 9)
    if date:
        items.append((360, top + 80 if block_x < 300 else block_y - 30, 10, "", date))
    if block:
        items += stack(block_x, block_y, block, 10)
    y = max(block_y + 14 * len(block or []) + 30, 230)
    for line in labelled:
        items.append((56, y, 10, "", line))
        y += 14
    if labelled:
        y += 10
    if objet:
        items.append((56, y, 11, "b", "Objet : " + objet))
        y += 24
    for line in patient_lines:
        items.append((56, y, 10, "", line))
        y += 14
    y += 14
    if salutation:
        items.append((56, y, 11, "r", salutation))
        y += 20
    for para in body:
        for line in wrap(para):
            items.append((56, y, 11, "r", line))
            y += 15
        y += 4
    y += 16
    if closing:
        items.append((56, y, 11, "r", closing))
        y += 30
    for i, line in enumerate(signature):
        items.append((330, y + i * 14, 10, "b" if i == 0 else "", line))
    y += 14 * len(signature) + 24
    for line in after:
        items.append((56, y, 9, "", line))
        y += 13
    for i, line in enumerate(footer):
        items.append((56, 800 + i * 10, 7, "", line))
    return items


# ---------------------------------------------------------------- the documents

def build():
    T = []
    P = PAT

    # ======================= Ghostscript =======================
    # gs-01: the classic: addressee block on the right with its address, INS spaced.
    p = P["girard"]
    render_ps("gs-01-bloc-droite-adresse", [positioned_letter(
        block=["Docteur Isabelle MORIN", "Gynécologue", "14 rue Jean-Macé", "69007 LYON", addr("morin")],
        objet="Compte rendu de consultation de cardiologie",
        patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-01-bloc-droite-adresse", p, [to("morin")], "send"))

    # gs-02: recipient by RPPS on a « Destinataire » line, em dash (U+2212 in the text layer).
    p = P["haddad"]
    render_ps("gs-02-destinataire-rpps", [positioned_letter(
        block=None, labelled=[f"Destinataire : Dr Éric CHEVALIER — RPPS {rpps_of('chevalier')}"],
        patient_lines=["Nom de naissance : HADDAD", "Prénom(s) : Karim", "Date de naissance : 19.12.1977",
                       "Matricule INS : " + p["ins"]])])
    T.append(truth("gs-02-destinataire-rpps", p, [to("chevalier", rpps=rpps_of("chevalier"))], "send"))

    # gs-03: NIR label, name-only block resolved by town.
    p = P["leclerc"]
    render_ps("gs-03-nir-bloc-ville", [positioned_letter(
        block=["Docteur Pierre LAMBERT", "Cabinet des Gratte-Ciel", "3 avenue Henri-Barbusse", "69100 VILLEURBANNE"],
        patient_lines=[patient_line(p, "civ"), "NIR : " + spaced(p["ins"])])])
    T.append(truth("gs-03-nir-bloc-ville", p, [to("lambert")], "send"))

    # gs-04: a patient born in Upper Corsica (2B).
    p = P["santoni"]
    render_ps("gs-04-corse-2b", [positioned_letter(
        block=["Madame le Docteur Claire BENOIT", "Maison de santé des Pentes", "2 montée de la Grande-Côte", "69001 LYON"],
        patient_lines=[patient_line(p), "N° INS : " + spaced(p["ins"])])])
    T.append(truth("gs-04-corse-2b", p, [to("benoit")], "send"))

    # gs-05: wrong INS key (Corse du Sud): held.
    p = bad_key(P["faure"])
    render_ps("gs-05-cle-ins-fausse", [positioned_letter(
        block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
        patient_lines=[patient_line(P["faure"], "civ"), "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-05-cle-ins-fausse", p, [to("mercier")], "hold", "wrong INS key"))

    # gs-06: an address outside the trust space: held.
    p = P["bouvier"]
    render_ps("gs-06-gmail", [positioned_letter(
        labelled=["Destinataire : dr.lambert.cabinet@gmail.com"],
        patient_lines=[patient_line(p), "INS : " + p["ins"]])])
    T.append(truth("gs-06-gmail", p, [to("dr.lambert.cabinet@gmail.com")], "hold", "outside the trust space"))

    # gs-07: the author is in the directory, with her address and RPPS in the letterhead.
    p = P["legoff"]
    head = SENDER_CH + ["Dr Hélène ROUSSEL - N° RPPS " + rpps_of("roussel"), "MSSanté : " + addr("roussel")]
    render_ps("gs-07-auteur-annuaire", [positioned_letter(
        head=head, block=["Docteur Yann LE GOFF", "Cabinet de cardiologie de Recouvrance", "29200 BREST"], block_y=160,
        patient_lines=["Patient : M. LE GOFF Yann-Erwan, né le 02/11/1948", "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-07-auteur-annuaire", p, [to("legoff")], "send"))

    # gs-08: a copy named by specialty and town among homonyms.
    p = P["nguyen"]
    render_ps("gs-08-copie-specialite-ville", [positioned_letter(
        block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
        patient_lines=["Patient : M. NGUYEN Van Minh, né le 15 octobre 1968", "INS : " + spaced(p["ins"])],
        after=["Copie : Dr François PETIT, endocrinologue, Lyon"])])
    T.append(truth("gs-08-copie-specialite-ville", p, [to("mercier"), cc("petit_lyon")], "send"))

    # gs-09: a copy to a homonym nothing separates: held, the copy not guessed.
    p = P["nguyen"]
    render_ps("gs-09-copie-homonyme", [positioned_letter(
        block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
        patient_lines=["Patient : M. NGUYEN Van Minh, né le 15/10/1968", "INS : " + spaced(p["ins"])],
        after=["cc : Dr François PETIT"])])
    T.append(truth("gs-09-copie-homonyme", p, [to("mercier")], "hold", "two François PETIT"))

    # gs-10: sex contradicting the INS: held.
    p = P["rossi"]
    render_ps("gs-10-sexe-contredit-ins", [positioned_letter(
        block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
        patient_lines=["Nom : ROSSI   Prénom : Chiara   Sexe : M", "Date de naissance : 28/02/1999", "INS : " + p["ins"]])])
    T.append(truth("gs-10-sexe-contredit-ins", dict(p, sex="M"), [to("mercier")], "hold", "sex contradicts INS"))

    # gs-11: a lab report: the prescriber's block at the right, no address; a results table.
    p = P["bernard"]
    lab_head = ["Laboratoire BioValmont", "Biologie médicale - 8 place du Marché", "69400 Valmont-sur-Saône",
                "Tél. 04 72 11 22 33 - " + addr("labo")]
    items = stack(56, 50, lab_head[:1], 12, "b") + stack(56, 65, lab_head[1:], 9)
    items += stack(330, 130, ["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON"])
    items += [(56, 210, 11, "b", "COMPTE RENDU D'ANALYSES"), (56, 230, 10, "", "Patient : M. BERNARD Louis"),
              (330, 230, 10, "", "Né le : 01/03/1950"), (56, 244, 10, "", "INS : " + spaced(p["ins"])),
              (330, 244, 10, "", "Prélevé le 19/11/2026 à 08:10")]
    y = 280
    for row in [("Analyse", "Résultat", "Unité", "Valeurs de référence"), ("Hémoglobine", "13,9", "g/dL", "13,0 - 17,0"),
                ("Leucocytes", "6,2", "G/L", "4,0 - 10,0"), ("Créatinine", "88", "µmol/L", "59 - 104"),
                ("DFG (CKD-EPI)", "78", "mL/min/1,73m²", "> 60"), ("Potassium", "4,1", "mmol/L", "3,5 - 5,0")]:
        for x, cell in zip((56, 220, 300, 400), row):
            items.append((x, y, 10, "b" if row[0] == "Analyse" else "", cell))
        y += 16
    items += [(56, 420, 10, "", "Validé par Dr Marc VIDAL, biologiste"), (56, 800, 7, "", "Laboratoire BioValmont - SELAS au capital de 10 000 EUR - FINESS 690000000")]
    render_ps("gs-11-labo-prescripteur-bloc", [items])
    T.append(truth("gs-11-labo-prescripteur-bloc", p, [to("mercier")], "send"))

    # gs-12: « À : » line with an address, birth date in words.
    p = P["moulin"]
    render_ps("gs-12-a-adresse-date-mots", [positioned_letter(
        labelled=["À : " + addr("lambert")],
        patient_lines=[f"Monsieur MOULIN Gérard, né le {fr_word_date(p)}", "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-12-a-adresse-date-mots", p, [to("lambert")], "send"))

    # gs-13: « Copie au médecin traitant », who is named elsewhere.
    p = P["petitjean"]
    render_ps("gs-13-copie-medecin-traitant", [positioned_letter(
        block=["Docteur Éric CHEVALIER", "Rhumatologue", "42000 SAINT-ÉTIENNE", addr("chevalier")],
        patient_lines=[patient_line(p), "INS : " + spaced(p["ins"]), "Médecin traitant : Dr Pierre LAMBERT (Villeurbanne)"],
        after=["Copie au médecin traitant"])])
    T.append(truth("gs-13-copie-medecin-traitant", p, [to("chevalier"), cc("lambert")], "send"))

    # gs-14: family name only, confirmed by specialty and town.
    p = P["bouvier"]
    render_ps("gs-14-nom-seul-specialite", [positioned_letter(
        labelled=["À l'attention du Docteur Fontaine, radiologue à Lyon"],
        patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-14-nom-seul-specialite", p, [to("fontaine")], "send"))

    # gs-15: family name only, nothing to confirm it: held.
    p = P["bouvier"]
    render_ps("gs-15-nom-seul-non-confirme", [positioned_letter(
        labelled=["À l'attention du Docteur Garnier"],
        patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-15-nom-seul-non-confirme", p, [], "hold", "family name only, two GARNIER"))

    # gs-16: the referring doctor named in the head (« Adressée par »): not the addressee.
    p = P["rossi"]
    items = positioned_letter(block=["Docteur Claire BENOIT", "Maison de santé des Pentes", "69001 LYON"], block_y=150,
                              patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])])
    items.append((56, 150, 10, "i", "Adressée par le Dr Jean MARTIN (cardiologue)"))
    render_ps("gs-16-adresse-par-en-tete", [items])
    T.append(truth("gs-16-adresse-par-en-tete", p, [to("benoit")], "send"))

    # gs-17: « Monsieur Paul MERCIER » in the block, the patient's name not printed: a
    # doctor of that name is in the directory, but « Monsieur » is how a patient is written to.
    p = P["bernard"]
    render_ps("gs-17-monsieur-homonyme-medecin", [positioned_letter(
        block=["Monsieur Paul MERCIER", "5 rue des Acacias", "69003 LYON"], objet="Résultats",
        patient_lines=["Né le 01/03/1950", "INS : " + spaced(p["ins"])], salutation="Monsieur,")])
    T.append(truth("gs-17-monsieur-homonyme-medecin", dict(p, family_name="", given_names=""), [], "hold",
                   "civil title: maybe the patient, not the doctor"))

    # gs-18: an initial for the given name, the specialty picks among three Jean MARTIN.
    p = P["haddad"]
    render_ps("gs-18-initiale-specialite", [positioned_letter(
        labelled=["Destinataire : Dr J. MARTIN, pneumologue, Centre respiratoire de la Croix-Rousse"],
        patient_lines=[patient_line(p, "civ"), "INS : " + spaced(p["ins"])])])
    T.append(truth("gs-18-initiale-specialite", p, [to("martin_pneumo")], "send"))

    # gs-19: a print spool re-distilled: Type 3 fonts without a Unicode map, the text layer
    # is symbols: held, nothing read from it.
    p = P["girard"]
    render_ps("gs-19-police-sans-unicode", [positioned_letter(
        block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
        patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])])])
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(OUT, "gs-19-police-sans-unicode.pdf")
        subprocess.run(["pdf2ps", src, os.path.join(tmp, "spool.ps")], check=True)
        subprocess.run(["ps2pdf", os.path.join(tmp, "spool.ps"), src], check=True)
    T.append(truth("gs-19-police-sans-unicode", {}, [], "hold", "text layer of symbols"))

    # ======================= ReportLab =======================
    # rl-01: window-envelope layout: letterhead at the top right, addressee block at the left.
    p = P["ndiaye"]
    items = stack(330, 50, SENDER_CH[:1], 12, "b") + stack(330, 65, SENDER_CH[1:], 9)
    items += stack(70, 170, ["Docteur Aminata N'DIAYE", "Centre de dialyse des Minguettes", "69200 VÉNISSIEUX"])
    items += [(330, 250, 10, "", "Valmont, le 21 novembre 2026"), (56, 290, 11, "b", "Objet : Lettre de liaison"),
              (56, 314, 10, "", "Patiente : N'DIAYE Awa"), (56, 328, 10, "", "Née le 21/04/1985"),
              (56, 342, 10, "", "INS : " + p["ins"]), (56, 372, 11, "r", "Chère consoeur,")]
    y = 392
    for line in wrap(BODY[0]) + wrap(BODY[3]):
        items.append((56, y, 11, "r", line))
        y += 15
    items += [(56, y + 20, 11, "r", "Bien à vous,"), (330, y + 50, 10, "b", "Dr Hélène ROUSSEL")]
    render_rl("rl-01-enveloppe-fenetre", [items])
    T.append(truth("rl-01-enveloppe-fenetre", p, [to("ndiaye")], "send"))

    # rl-02: identity and recipient in a bordered table; an RPPS with two mailboxes, the
    # letter names the structure.
    p = P["legoff"]
    rows = [("Nom de naissance", "LE GOFF"), ("Prénom(s)", "Yann-Erwan"), ("Date de naissance", "02/11/1948"),
            ("Sexe", "M"), ("Matricule INS", spaced(p["ins"])),
            ("Destinataire", f"Dr Anne DUBOIS - RPPS {rpps_of('dubois_chu')}"), ("", "Service de néphrologie, CHU de Valmont")]
    items = stack(56, 50, SENDER_CH[:1], 12, "b") + stack(56, 65, SENDER_CH[1:], 9)
    items.append((56, 150, 12, "b", "LETTRE DE LIAISON A LA SORTIE"))
    boxes = []
    y = 180
    for k, v in rows:
        items += [(62, y + 13, 10, "b", k), (212, y + 13, 10, "", v)]
        boxes += [(56, y, 150, 18), (206, y, 300, 18)]
        y += 18
    for line in wrap(BODY[1]) + wrap(BODY[4]):
        y += 15
        items.append((56, y + 20, 11, "r", line))
    items.append((330, y + 70, 10, "b", "Dr Hélène ROUSSEL"))
    render_rl("rl-02-tableau-rpps-deux-bal", [items], boxes=[boxes])
    T.append(truth("rl-02-tableau-rpps-deux-bal", p, [to("dubois_chu", rpps=rpps_of("dubois_chu"))], "send"))

    # rl-03: the same RPPS, nothing to choose between its two mailboxes: held.
    p = P["haddad"]
    render_rl("rl-03-rpps-deux-bal-ambigu", [positioned_letter(
        labelled=[f"Destinataire : Dr Anne DUBOIS, RPPS {rpps_of('dubois_chu')}"],
        patient_lines=[patient_line(p, "civ"), "INS : " + spaced(p["ins"])])])
    T.append(truth("rl-03-rpps-deux-bal-ambigu", p, [], "hold", "one RPPS, two mailboxes, nothing to choose"))

    # rl-04: two pages, running header and footer with the service's own address, copy on page 2.
    p = P["dupre"]
    footer = ["Centre Hospitalier de Valmont - 4 avenue des Tilleuls - " + addr("cardio_sec")]
    page1 = positioned_letter(block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
                              patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])],
                              body=BODY * 2, closing=None, signature=[], footer=footer + ["Page 1/2"])
    page2 = [(56, 50, 9, "", "Centre Hospitalier de Valmont - Service de cardiologie"),
             (56, 62, 9, "", f"DUPRÉ Jeanne Marie - née le {fr_date(p)}")]
    page1 = [(56, 50, 9, "", "Centre Hospitalier de Valmont - Service de cardiologie")] + [i for i in page1 if i[1] != 50]
    y = 100
    for line in wrap(BODY[4]) + wrap(BODY[2]):
        page2.append((56, y, 11, "r", line))
        y += 15
    page2 += [(56, y + 20, 11, "r", "Bien confraternellement,"), (330, y + 50, 10, "b", "Dr Hélène ROUSSEL"),
              (56, y + 90, 9, "", "Copie à : " + addr("neuro")), (56, 800, 7, "", footer[0]), (56, 810, 7, "", "Page 2/2")]
    render_rl("rl-04-deux-pages-copie-page2", [page1, page2])
    T.append(truth("rl-04-deux-pages-copie-page2", p, [to("mercier"), cc("neuro")], "send"))

    # rl-05: the structure's address in the footer only; the letter is for a named doctor.
    p = P["girard"]
    render_rl("rl-05-adresse-pied-de-page", [positioned_letter(
        block=["Docteur Marc FONTAINE", "Centre d'imagerie Saxe", "69003 LYON"],
        patient_lines=[patient_line(p), "INS : " + spaced(p["ins"])],
        footer=["CH de Valmont - " + addr("cardio_sec") + " - page 1/1"])])
    T.append(truth("rl-05-adresse-pied-de-page", p, [to("fontaine")], "send"))

    # rl-06: patient header repeated on each page of a three-page report.
    p = P["girard"]
    pages = []
    for n in range(3):
        items = [(56, 40, 8, "", f"Patiente : GIRARD Lucie - née le 09/09/1972 - INS {p['ins']}"),
                 (470, 40, 8, "", f"Page {n + 1}/3")]
        if n == 0:
            items += stack(56, 70, SENDER_CH[:1], 12, "b") + stack(56, 85, SENDER_CH[1:], 9)
            items += stack(330, 160, ["Docteur Luc GARNIER", "Gastro-entérologue", "75011 PARIS", addr("garnier")])
            items.append((56, 250, 11, "b", "Objet : Compte rendu d'hospitalisation"))
            y = 290
        else:
            y = 80
        for para in BODY * 2:
            for line in wrap(para):
                items.append((56, y, 11, "r", line))
                y += 15
        if n == 2:
            items += [(56, y + 20, 11, "r", "Cordialement,"), (330, y + 50, 10, "b", "Dr Hélène ROUSSEL")]
        pages.append(items)
    render_rl("rl-06-trois-pages-entete-patient", pages)
    T.append(truth("rl-06-trois-pages-entete-patient", p, [to("garnier")], "send"))

    # rl-07: identity fields side by side on one row.
    p = P["morel"]
    render_rl("rl-07-champs-sur-une-ligne", [positioned_letter(
        block=["Docteur Claire BENOIT", "Maison de santé des Pentes", "69001 LYON", addr("benoit")],
        patient_lines=["Nom : MOREL      Prénom : Alice      DDN : 05.01.1990      Sexe : F", "INS : " + spaced(p["ins"])])])
    T.append(truth("rl-07-champs-sur-une-ligne", p, [to("benoit")], "send"))

    # rl-08: a letter to the patient herself: no professional recipient, held.
    p = P["girard"]
    render_rl("rl-08-lettre-au-patient", [positioned_letter(
        block=["Madame Lucie GIRARD", "25 rue des Lilas", "69008 LYON"],
        objet="Convocation", patient_lines=[patient_line(p), "INS : " + p["ins"]], salutation="Madame,",
        body=["Nous vous prions de vous présenter le 3 décembre à 9 h au service de cardiologie, à jeun."],
        closing="Veuillez agréer, Madame, nos salutations distinguées.")])
    T.append(truth("rl-08-lettre-au-patient", p, [], "hold", "addressed to the patient"))

    # rl-09: two addressee blocks side by side under the letterhead: held.
    p = P["haddad"]
    items = positioned_letter(block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON"], block_x=330, block_y=150,
                              patient_lines=[patient_line(p, "civ"), "INS : " + p["ins"]], date=None)
    items += stack(56, 150, ["Docteur Isabelle MORIN", "14 rue Jean-Macé", "69007 LYON"])
    render_rl("rl-09-deux-blocs-adresse", [items])
    T.append(truth("rl-09-deux-blocs-adresse", p, [], "hold", "two addressee blocks"))

    # rl-10: « épouse », copy with « Cc : » and an address.
    p = dict(P["dupont"])
    render_rl("rl-10-epouse-cc", [positioned_letter(
        block=["Docteur Isabelle MORIN", "14 rue Jean-Macé", "69007 LYON", addr("morin")],
        patient_lines=[f"Patiente : Mme DUPONT épouse MARTIN Marie, née le {fr_date(p)}", "INS : " + spaced(p["ins"])],
        after=["Cc : " + addr("bonnet") + " (sage-femme)"])])
    T.append(truth("rl-10-epouse-cc", p, [to("morin"), cc("bonnet")], "send"))

    # rl-11: a staff list in the left margin (many doctors), the addressee on the right.
    p = P["arnaud"]
    staff = ["Chef de service", "Pr Antoine COSTE", "Praticiens hospitaliers", "Dr Hélène ROUSSEL", "Dr Jean MARTIN",
             "Dr Paul MERCIER", "Dr Sophie KLEIN", "Secrétariat", "04 72 00 00 10", addr("cardio_sec")]
    items = stack(40, 60, SENDER_CH[:1], 12, "b") + stack(40, 200, staff, 8, "", 11)
    items += stack(250, 130, ["Docteur Claire BENOIT", "Maison de santé des Pentes", "69001 LYON"])
    items += [(250, 230, 11, "b", "Objet : Compte rendu d'échographie cardiaque"),
              (250, 250, 10, "", "Enfant ARNAUD Théo, né le 30 juin 2015, sexe : M"),
              (250, 264, 10, "", "INS " + spaced(p["ins"])), (250, 290, 11, "r", "Chère consoeur,")]
    y = 310
    for line in wrap(BODY[1], 60) + wrap(BODY[3], 60):
        items.append((250, y, 11, "r", line))
        y += 15
    items += [(250, y + 20, 11, "r", "Bien confraternellement,"), (400, y + 50, 10, "b", "Dr Hélène ROUSSEL")]
    render_rl("rl-11-liste-medecins-marge", [items])
    T.append(truth("rl-11-liste-medecins-marge", p, [to("benoit")], "send"))

    # rl-12: INS and birth date in separate table cells.
    p = P["rossi"]
    items = positioned_letter(block=["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")],
                              patient_lines=[], objet="Résultats d'échographie")
    items += [(56, 560, 9, "b", "Nom"), (200, 560, 9, "", "ROSSI"), (56, 574, 9, "b", "Prénoms"), (200, 574, 9, "", "Chiara"),
              (56, 588, 9, "b", "Date de naissance"), (200, 588, 9, "", "28/02/1999"),
              (56, 602, 9, "b", "INS"), (200, 602, 9, "", spaced(p["ins"]))]
    render_rl("rl-12-ins-en-cellules", [items])
    T.append(truth("rl-12-ins-en-cellules", p, [to("mercier")], "send"))

    # rl-13: the printed address belongs to someone else than the printed name: held.
    p = P["bernard"]
    render_rl("rl-13-adresse-autre-personne", [positioned_letter(
        block=["Docteur Isabelle MORIN", "14 rue Jean-Macé", "69007 LYON", addr("mercier")],
        patient_lines=[patient_line(p, "civ"), "INS : " + spaced(p["ins"])])])
    T.append(truth("rl-13-adresse-autre-personne", p, [], "hold", "address and name disagree"))

    # rl-14: a patient who bears a doctor's name, written to at home: held.
    p = patient("M", "MERCIER", "Paul", 14, 6, 1981, commune=123, order=808)
    render_rl("rl-14-patient-homonyme-medecin", [positioned_letter(
        block=["Monsieur Paul MERCIER", "5 rue des Acacias", "69003 LYON"], objet="Convocation",
        patient_lines=[f"Patient : M. MERCIER Paul, né le {fr_date(p)}", "INS : " + spaced(p["ins"])], salutation="Monsieur,")])
    T.append(truth("rl-14-patient-homonyme-medecin", p, [], "hold", "addressed to the patient"))

    # rl-15: a nurse, addressed « Madame », her profession said.
    p = P["moulin"]
    render_rl("rl-15-infirmiere-madame", [positioned_letter(
        block=["Madame Sophie LEROY", "Infirmière libérale", "Cabinet infirmier Saxe", "69003 LYON"], objet="Soins à domicile",
        patient_lines=[f"Patient : M. MOULIN Gérard, né le {fr_date(p)}", "INS : " + spaced(p["ins"])], salutation="Madame,")])
    T.append(truth("rl-15-infirmiere-madame", p, [to("leroy_ide")], "send"))

    # rl-16: a lab report: « Résultats transmis à » and a copy to the treating doctor.
    p = P["petitjean"]
    items = stack(56, 50, ["Laboratoire BioValmont"], 12, "b") + stack(56, 65, ["8 place du Marché - 69400 Valmont-sur-Saône",
                                                                            "Tél. 04 72 11 22 33 - " + addr("labo")], 9)
    items += [(56, 130, 12, "b", "RÉSULTATS D'ANALYSES"), (56, 160, 10, "", "Résultats transmis à : Dr Pierre LAMBERT, Villeurbanne"),
              (56, 174, 10, "", "Copie : Dr Paul MERCIER (médecin traitant)"),
              (56, 200, 10, "", "Nom de naissance : PETITJEAN"), (300, 200, 10, "", "Prénom(s) : Élodie"),
              (56, 214, 10, "", "Date de naissance : 07/05/1983"), (300, 214, 10, "", "Sexe : F"),
              (56, 228, 10, "", "Matricule INS : " + p["ins"])]
    y = 260
    for row in [("TSH", "1,8", "mUI/L", "0,4 - 4,0"), ("T4 libre", "14", "pmol/L", "9 - 19"), ("Ferritine", "35", "µg/L", "15 - 150")]:
        for x, cell in zip((56, 220, 300, 400), row):
            items.append((x, y, 10, "", cell))
        y += 16
    items.append((56, y + 30, 10, "", "Biologiste responsable : Dr Marc VIDAL"))
    render_rl("rl-16-labo-transmis-copie", [items])
    T.append(truth("rl-16-labo-transmis-copie", p, [to("lambert"), cc("mercier")], "send"))

    # ======================= LibreOffice =======================
    def lo_head(right, left=SENDER_CH, extra_left=()):
        return ('<table width="100%"><tr><td width="55%"><b>' + e(left[0]) + "</b><br><span class=small>" +
                br(list(left[1:]) + list(extra_left)) + "</span></td><td>" + br(right) + "</td></tr></table>")

    def lo_body(p_lines, objet="Compte rendu de consultation", body=BODY[:3], sal="Cher confrère,",
                closing="Bien confraternellement,", sign=("Dr Hélène ROUSSEL", "Cardiologue"), after=(), labelled=()):
        h = '<p style="margin-top:24pt; margin-left:250pt">Valmont, le 20 novembre 2026</p>'
        for l in labelled:
            h += "<p>" + e(l) + "</p>"
        h += f'<p style="margin-top:14pt"><b>Objet : {e(objet)}</b></p>' if objet else ""
        h += "".join("<p>" + e(x) + "</p>" for x in p_lines)
        h += f'<p class="serif" style="margin-top:14pt">{e(sal)}</p>' + paras(body)
        if closing:
            h += f'<p class="serif" style="margin-top:12pt">{e(closing)}</p>'
        if sign:
            h += f'<p style="margin-top:18pt; margin-left:250pt"><b>{e(sign[0])}</b><br>{br(sign[1:])}</p>'
        h += "".join(f'<p class="small" style="margin-top:8pt">{e(x)}</p>' for x in after)
        return h

    # lo-01: two-cell header, the addressee in the right cell with its address.
    p = P["dupre"]
    lo_doc("lo-01-entete-deux-cellules", lo_head(["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-01-entete-deux-cellules", p, [to("mercier")], "send"))

    # lo-02: addressee block below the letterhead, name only, among three Jean MARTIN.
    p = P["leclerc"]
    lo_doc("lo-02-bloc-nom-homonymes-specialite", lo_head([]) +
           '<p style="margin-top:30pt; margin-left:250pt">Docteur Jean MARTIN<br>Cardiologue<br>Cabinet de cardiologie du Parc<br>69006 LYON</p>' +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-02-bloc-nom-homonymes-specialite", p, [to("martin_cardio")], "send"))

    # lo-03: « Dr Jean MARTIN, Lyon »: two of them in Lyon: held.
    p = P["leclerc"]
    lo_doc("lo-03-homonymes-meme-ville", lo_head([]) +
           '<p style="margin-top:30pt; margin-left:250pt">Docteur Jean MARTIN<br>LYON</p>' +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-03-homonymes-meme-ville", p, [], "hold", "two Jean MARTIN in Lyon"))

    # lo-04: a lab report in a grid; prescriber in a table cell; the lab's own address in the
    # letterhead; validated by the biologist (who is in the directory).
    p = P["bernard"]
    grid = lambda rows: '<table class="grid" width="100%">' + "".join(
        "<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>"
    lo_doc("lo-04-labo-grille-prescripteur",
           '<p><b>Laboratoire BioValmont</b><br><span class=small>8 place du Marché - 69400 Valmont-sur-Saône<br>' +
           e(addr("labo")) + " - Dr Marc VIDAL, biologiste - RPPS " + rpps_of("biologiste") + "</span></p>" +
           '<p style="margin-top:16pt"><b>COMPTE RENDU D\'ANALYSES MÉDICALES</b></p>' +
           grid([("Nom de naissance", "BERNARD"), ("Prénoms", "Louis"), ("Date de naissance", "01/03/1950"),
                 ("Sexe", "M"), ("INS", p["ins"]), ("Prescripteur", "Dr Paul MERCIER")]) +
           '<p style="margin-top:12pt"></p>' +
           grid([("Analyse", "Résultat", "Unité", "Référence"), ("Glycémie à jeun", "5,4", "mmol/L", "4,1 - 5,9"),
                 ("HbA1c", "6,1", "%", "< 6,5"), ("Cholestérol LDL", "2,9", "mmol/L", "< 3,0")]) +
           '<p style="margin-top:16pt">Validé par : Dr Marc VIDAL, biologiste</p>')
    T.append(truth("lo-04-labo-grille-prescripteur", p, [to("mercier")], "send"))

    # lo-05: two columns: staff list on the left, the letter on the right.
    p = P["ndiaye"]
    staff = ["Pr Antoine COSTE", "Chef de service", "", "Dr Hélène ROUSSEL", "Dr Sophie KLEIN", "Dr Jean MARTIN",
             "", "Secrétariat", "04 72 00 00 10", addr("cardio_sec")]
    lo_doc("lo-05-deux-colonnes-liste-medecins",
           '<table width="100%"><tr><td width="28%" class="small"><b>Centre Hospitalier de Valmont</b><br>Cardiologie<br><br>' +
           br(staff) + '</td><td><p style="margin-top:40pt; margin-left:120pt">Docteur Aminata N\'DIAYE<br>Centre de dialyse des Minguettes<br>69200 VÉNISSIEUX</p>' +
           lo_body([patient_line(p), "INS : " + p["ins"]]) + "</td></tr></table>")
    T.append(truth("lo-05-deux-colonnes-liste-medecins", p, [to("ndiaye")], "send"))

    # lo-06: a long letter over several pages, a copy on the last page by name and town.
    p = P["morel"]
    lo_doc("lo-06-plusieurs-pages-copie-fin",
           lo_head(["Docteur Luc GARNIER", "Gastro-entérologue", "75011 PARIS", addr("garnier")]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])], body=BODY * 6,
                   after=["Copie à : Dr Claire BENOIT, Maison de santé des Pentes, 69001 LYON"]))
    T.append(truth("lo-06-plusieurs-pages-copie-fin", p, [to("garnier"), cc("benoit")], "send"))

    # lo-07: « née »: used name first, birth name after.
    p = P["dupont"]
    lo_doc("lo-07-nee-nom-usage", lo_head([]) +
           lo_body([f"Patiente : Mme MARTIN née DUPONT Marie, née le {fr_date(p)}", "INS : " + spaced(p["ins"])],
                   labelled=["Destinataire : " + addr("morin")]))
    T.append(truth("lo-07-nee-nom-usage", p, [to("morin")], "send"))

    # lo-08: a look-alike domain: not in the trust space, held.
    p = P["rossi"]
    lo_doc("lo-08-domaine-sosie", lo_head(["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON",
                                           "paul.mercier@medecin.mssante.fr.example.net"]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-08-domaine-sosie", p, [to("paul.mercier@medecin.mssante.fr.example.net")], "hold", "look-alike domain"))

    # lo-09: the only address is the sender's, in the letterhead: no recipient, held.
    p = P["girard"]
    lo_doc("lo-09-adresse-entete-seule", lo_head([], extra_left=["Dr Hélène ROUSSEL - MSSanté : " + addr("roussel")]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])], sal="Madame, Monsieur,"))
    T.append(truth("lo-09-adresse-entete-seule", p, [], "hold", "no recipient, the address is the author's"))

    # lo-10: two reports of two patients printed as one job: held.
    p, q = P["girard"], P["moulin"]
    lo_doc("lo-10-deux-patients",
           lo_head(["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]) +
           '<p style="page-break-before: always"></p>' +
           lo_head(["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")]) +
           lo_body([patient_line(q), "INS : " + spaced(q["ins"])]))
    T.append(truth("lo-10-deux-patients", dict(p, ins="", ins_key_valid=False), [to("mercier")], "hold", "two patients"))

    # lo-11: the birth date contradicts the INS: held.
    p = P["dupre"]
    lo_doc("lo-11-date-contredit-ins", lo_head(["Docteur Paul MERCIER", "12 rue Burdeau", "69003 LYON", addr("mercier")]) +
           lo_body(["Patiente : Mme DUPRÉ Jeanne Marie, née le 12/04/1957", "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-11-date-contredit-ins", dict(p, birth_date="1957-04-12"), [to("mercier")], "hold", "birth date vs INS"))

    # lo-12: a name with no match in the directory: held.
    p = P["haddad"]
    lo_doc("lo-12-nom-absent-annuaire", lo_head(["Docteur Bernard INCONNU", "Cabinet médical", "69009 LYON"]) +
           lo_body([patient_line(p, "civ"), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-12-nom-absent-annuaire", p, [], "hold", "nobody of that name in the directory"))

    # lo-13: « Copies : » followed by a list.
    p = P["nguyen"]
    lo_doc("lo-13-liste-copies", lo_head([]) +
           lo_body(["Patient : M. NGUYEN Van Minh, né le 15/10/1968", "INS : " + spaced(p["ins"])],
                   labelled=["Destinataire : Dr Paul MERCIER, 69003 LYON"],
                   after=["Copies :", "- Dr Claire BENOIT, Maison de santé des Pentes, 69001 LYON",
                          "- " + addr("neuro"), "- Dossier patient"]))
    T.append(truth("lo-13-liste-copies", p, [to("mercier"), cc("benoit"), cc("neuro")], "send"))

    # lo-14: a structure whose own address is in the letterhead and footer (the box's own).
    p = P["moulin"]
    lo_doc("lo-14-structure-adresse-propre",
           lo_head(["Docteur Aminata N'DIAYE", "Centre de dialyse des Minguettes", "69200 VÉNISSIEUX"],
                   left=["Centre Hospitalier de Valmont - Unité de dialyse", "4 avenue des Tilleuls", "69400 Valmont-sur-Saône",
                         "MSSanté : " + addr("dialyse")]) +
           lo_body([f"Monsieur MOULIN Gérard, né le {fr_date(p)}", "INS : " + spaced(p["ins"])], objet="Lettre de liaison",
                   sign=("Unité de dialyse", addr("dialyse"))))
    T.append(truth("lo-14-structure-adresse-propre", p, [to("ndiaye")], "send", own=[addr("dialyse")]))

    # lo-15: RPPS inside the addressee block.
    p = P["petitjean"]
    lo_doc("lo-15-rpps-dans-bloc", lo_head(["Dr Luc GARNIER", "RPPS " + rpps_of("garnier"), "75011 PARIS"]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-15-rpps-dans-bloc", p, [to("garnier", rpps=rpps_of("garnier"))], "send"))

    # lo-16: « Double à » by name and specialty.
    p = P["bouvier"]
    lo_doc("lo-16-double-a", lo_head(["Docteur Isabelle MORIN", "14 rue Jean-Macé", "69007 LYON", addr("morin")]) +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])], after=["Double à : Dr Marc FONTAINE (radiologue, Lyon)"]))
    T.append(truth("lo-16-double-a", p, [to("morin"), cc("fontaine")], "send"))

    # lo-17: a label line followed at once by the letter's prose, which names another doctor.
    p = P["dupre"]
    lo_doc("lo-17-label-puis-prose", lo_head([]) +
           '<p style="margin-top:20pt">Destinataire : Dr Paul MERCIER, 69003 LYON</p>' +
           '<p>Je vous adresse ce jour votre patiente, vue avec le Dr Jean MARTIN, cardiologue à Lyon, pour avis.</p>' +
           lo_body([patient_line(p), "INS : " + spaced(p["ins"])]))
    T.append(truth("lo-17-label-puis-prose", p, [to("mercier")], "send"))

    # ======================= groff =======================
    def groff_letter(to_line, p_lines, after=()):
        # Plain troff requests (Debian's groff-base has no -ms macros).
        src = [".ps 10", ".vs 13p", ".ll 6.2i", ".po 0.9i", ".sp 0.5i", "\\fBCentre Hospitalier de Valmont\\fP", ".br",
               "Service de cardiologie \\(em 4 avenue des Tilleuls, 69400 Valmont-sur-Saône", ".sp 3"]
        if to_line:
            src += [to_line, ".sp 1"]
        src += ["\\fBObjet : compte rendu de consultation\\fP", ".sp 1"]
        for l in p_lines:
            src += [l, ".br"]
        src += [".sp 1", "Cher confrère,", ".sp 1", BODY[0] + " " + BODY[1], ".sp 1", BODY[3], ".sp 1",
                "Bien confraternellement,", ".sp 2", "Dr Hélène ROUSSEL", ".br"]
        for a in after:
            src += [".sp 1", a, ".br"]
        return "\n".join(src) + "\n"

    p = P["arnaud"]
    render_groff("gr-01-destinataire-adresse", groff_letter("Destinataire : " + addr("benoit"),
                                                            [f"Enfant ARNAUD Théo, né le {fr_word_date(p)}", "INS : " + spaced(p["ins"])]))
    T.append(truth("gr-01-destinataire-adresse", p, [to("benoit")], "send"))

    p = P["legoff"]
    render_groff("gr-02-copie-nom-ville", groff_letter("Adressé à : " + addr("mercier"),
                                                       ["Patient : M. LE GOFF Yann-Erwan", "Né le 02/11/1948", "INS : " + p["ins"]],
                                                       after=["Copie à : Dr Yann LE GOFF, cardiologue, Brest"]))
    T.append(truth("gr-02-copie-nom-ville", p, [to("mercier"), cc("legoff")], "send"))

    p = P["moulin"]
    render_groff("gr-03-sans-destinataire", groff_letter(None, [f"M. MOULIN Gérard, né le {fr_date(p)}", "INS : " + spaced(p["ins"])]))
    T.append(truth("gr-03-sans-destinataire", p, [], "hold", "no recipient"))

    render_lo_all()
    return T


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    directory_file()
    truths = build()
    truths.sort(key=lambda t: t["file"])
    missing = [t["file"] for t in truths if not os.path.exists(os.path.join(OUT, t["file"]))]
    if missing:
        sys.exit("not generated: " + ", ".join(missing))
    with open(os.path.join(HERE, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truths, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(truths)} documents, truth.json, annuaire.txt")


if __name__ == "__main__":
    main()
