#!/bin/sh
# Rebuilds the PDFs the pdf package's tests read. Needs Ghostscript (ps2pdf, gs).
# The PDFs are committed: the tests do not need Ghostscript.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prolog='%!PS-Adobe-3.0
/reenc { findfont dup length dict begin { 1 index /FID ne { def } { pop pop } ifelse } forall
  /Encoding ISOLatin1Encoding def currentdict end definefont pop } def
/F /Helvetica /reenc load exec
'

# long.pdf: 300 pages, a header line and a few lines of text on each.
{
  printf '%s' "$prolog"
  cat <<'PS'
1 1 300 {
  /n exch def
  /F findfont 10 scalefont setfont
  56 800 moveto (Compte rendu long - page ) show n 10 string cvs show
  0 1 39 { /i exch def 56 760 i 16 mul sub moveto
    (Ligne de texte ordinaire pour remplir la page, numero ) show i 10 string cvs show } for
  showpage
} for
PS
} > "$tmp/long.ps"
ps2pdf "$tmp/long.ps" long.pdf

# encrypted.pdf: opens only with the user password "secret".
{
  printf '%s' "$prolog"
  printf '/F findfont 12 scalefont setfont 56 700 moveto (Document confidentiel) show showpage\n'
} > "$tmp/enc.ps"
gs -q -dBATCH -dNOPAUSE -dSAFER -sDEVICE=pdfwrite -sOwnerPassword=owner -sUserPassword=secret \
  -dEncryptionR=3 -dKeyLength=128 -sOutputFile=encrypted.pdf "$tmp/enc.ps"
# owner-only.pdf: encrypted with an owner password only: anyone may open it.
gs -q -dBATCH -dNOPAUSE -dSAFER -sDEVICE=pdfwrite -sOwnerPassword=owner \
  -dEncryptionR=3 -dKeyLength=128 -dPermissions=-3904 -sOutputFile=owner-only.pdf "$tmp/enc.ps"

# info.pdf: Info dictionary set with pdfmark, two text lines at known places.
{
  printf '%s' "$prolog"
  cat <<'PS'
[ /Title (Compte rendu de test) /Subject (Sujet de test) /Author (Dr Test)
  /Keywords (#MSS-TO: a.b@medecin.mssante.fr; #MSS-BOX: biologie) /Creator (LogicielMedical 4.2)
  /DOCINFO pdfmark
/F findfont 12 scalefont setfont
100 700 moveto (Premiere ligne) show
300 500 moveto (Seconde ligne) show
showpage
PS
} > "$tmp/info.ps"
ps2pdf "$tmp/info.ps" info.pdf
# columns.pdf: text that PDFium puts on one line although a wide blank separates it.
{
  printf '%s' "$prolog"
  cat <<'PS'
/F findfont 8 scalefont setfont 56 700 moveto (#MSS-TO: a@b.mssante.fr) show
/F findfont 11 scalefont setfont 400 700 moveto (Lyon, le 20 novembre 2026) show
56 600 moveto (Colonne de gauche) show
300 600.5 moveto (Colonne de droite) show
56 500 moveto (Mots) show 82 500 moveto (proches) show 124 500 moveto (restent) show 162 500 moveto (ensemble) show
showpage
PS
} > "$tmp/columns.ps"
ps2pdf "$tmp/columns.ps" columns.pdf
ls -l *.pdf
