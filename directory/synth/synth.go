// Package synth writes synthetic Annuaire Santé MSSanté extractions for the directory's tests
// and benchmark: the header of the published file (31 columns), French names drawn with a
// skewed distribution (many MARTIN, a long tail of rare names), towns with their postcodes,
// professions and specialties in plausible proportions. Everything is invented; the output
// depends only on the seed.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
)

// Header is the header line of the extraction, as in ../shared/samples/annuaire-sample.txt.
const Header = "Type de BAL|Adresse BAL|Type d'identifiant PP|Identifiant PP|Identification nationale PP|Type d'identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie professionnelle|Libellé catégorie professionnelle|Code profession|Libellé profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION structure BAL|L3COMPLEMENTDISTRIBUTION structure BAL|L4NUMEROVOIE structure BAL|L4COMPLEMENTNUMEROVOIE structure BAL|L4TYPEVOIE structure BAL|L4LIBELLEVOIE structure BAL|L5LIEUDITMENTION structure BAL|L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL|Pays structure BAL"

// Line is what a generated line holds, for the checks of a test or benchmark.
type Line struct {
	Kind, Address, RPPS, Family, Given, Town, Postcode, Profession string
}

var families = strings.Fields(`MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT
SIMON MICHEL LEFEBVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE
ROUSSEAU VINCENT MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER FRANCOIS
LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON
MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOEL MEYER DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY
RIVIERE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GERARD ROCHE RENARD SCHMITT ROY LEROUX COLIN
VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE
BENOIT REY LECLERC PAYET ROLLAND LECLERCQ GUILLAUME LECOMTE LOPEZ JEAN DUPUY GUILLOT HUBERT BERGER
CARPENTIER SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER FLEURY ROYER KLEIN
JACQUET ADAM PARIS POIRIER MARTY AUBRY GUYOT CARRE CHARLES RENAULT CHARPENTIER MENARD MAILLARD BARON
BERTIN BAILLY HERVE SCHNEIDER FERNANDEZ LE-GALL COLLET LEGER BOUVIER JULIEN PREVOST MILLET PERROT
DANIEL LE-ROUX COUSIN GERMAIN BRETON BESSON LANGLOIS REMY LE-GOFF PELLETIER LEVEQUE PERRIER LEBLANC
BARRE LEBRUN MARCHAL WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD RODRIGUEZ GUICHARD GILLET
ETIENNE GRONDIN POULAIN TESSIER CHEVALLIER COLLIN CHAUVIN DA-SILVA BOUCHET GAY LEMAITRE BENARD
MARECHAL HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHELEMY CORDIER PICHON LEJEUNE GILBERT LAMY DELAUNAY
PASQUIER CARLIER LAPORTE N'DIAYE DIALLO TRAORE NGUYEN HOAREAU D'ALMEIDA DE-OLIVEIRA`)

var givens = strings.Fields(`Jean Pierre Michel André Philippe René Louis Alain Jacques Bernard Marcel
Daniel Roger Robert Paul Claude Christian Henri Georges Nicolas François Patrick Gérard Christophe
Joseph Julien Laurent Frédéric Éric Stéphane David Pascal Sébastien Thierry Olivier Thomas Alexandre
Antoine Hugo Lucas Léo Yann Maxime Jean-Pierre Jean-Marc Jean-Luc Marie-Claire Marie-Hélène Marie
Nathalie Isabelle Sylvie Catherine Françoise Valérie Christine Sandrine Sophie Céline Véronique
Stéphanie Anne Monique Nicole Chantal Émilie Julie Aurélie Camille Léa Manon Chloé Inès Zoé Hélène
Gaëlle Aminata Fatima Claire Élodie Agnès Béatrice Cécile Laure Mathilde Pauline Noémie Anaïs Océane`)

type town struct{ name, postcode string }

var towns = []town{{"PARIS", "75011"}, {"PARIS", "75015"}, {"MARSEILLE", "13008"}, {"LYON", "69003"},
	{"LYON", "69008"}, {"TOULOUSE", "31000"}, {"NICE", "06000"}, {"NANTES", "44000"}, {"STRASBOURG", "67000"},
	{"MONTPELLIER", "34000"}, {"BORDEAUX", "33000"}, {"LILLE", "59000"}, {"RENNES", "35000"}, {"REIMS", "51100"},
	{"TOULON", "83000"}, {"SAINT-ETIENNE", "42000"}, {"LE HAVRE", "76600"}, {"GRENOBLE", "38000"},
	{"DIJON", "21000"}, {"ANGERS", "49000"}, {"NIMES", "30000"}, {"VILLEURBANNE", "69100"},
	{"CLERMONT-FERRAND", "63000"}, {"LE MANS", "72000"}, {"AIX-EN-PROVENCE", "13100"}, {"BREST", "29200"},
	{"TOURS", "37000"}, {"AMIENS", "80000"}, {"LIMOGES", "87000"}, {"ANNECY", "74000"}, {"PERPIGNAN", "66000"},
	{"BOULOGNE-BILLANCOURT", "92100"}, {"METZ", "57000"}, {"BESANCON", "25000"}, {"ORLEANS", "45000"},
	{"ROUEN", "76000"}, {"MULHOUSE", "68100"}, {"CAEN", "14000"}, {"NANCY", "54000"}, {"ARGENTEUIL", "95100"},
	{"SAINT-DENIS", "97400"}, {"ROUBAIX", "59100"}, {"TOURCOING", "59200"}, {"AVIGNON", "84000"},
	{"POITIERS", "86000"}, {"PAU", "64000"}, {"LA ROCHELLE", "17000"}, {"AJACCIO", "20000"}, {"BASTIA", "20200"},
	{"VENISSIEUX", "69200"}, {"BRON", "69500"}, {"QUIMPER", "29000"}, {"VANNES", "56000"}, {"LORIENT", "56100"},
	{"CHAMBERY", "73000"}, {"VALENCE", "26000"}, {"TROYES", "10000"}, {"NIORT", "79000"}, {"COLMAR", "68000"}}

type profession struct {
	code, label, domain string
	weight              int
	specialties         []string
}

var professions = []profession{
	{"10", "Médecin", "medecin.mssante.fr", 55, []string{"Médecine Générale", "Médecine Générale",
		"Médecine Générale", "Cardiologie et maladies vasculaires", "Pédiatrie", "Psychiatrie",
		"Radio-diagnostic", "Gynécologie-obstétrique", "Anesthésie-réanimation", "Ophtalmologie",
		"Néphrologie", "Pneumologie", "Gastro-entérologie et hépatologie", "Dermatologie et vénéréologie",
		"Rhumatologie", "Neurologie", "Endocrinologie et métabolisme", "Oncologie médicale"}},
	{"60", "Infirmier", "infirmier.mssante.fr", 18, nil},
	{"21", "Pharmacien", "pharmacien.mssante.fr", 9, nil},
	{"70", "Masseur-Kinésithérapeute", "kine.mssante.fr", 7, nil},
	{"40", "Chirurgien-Dentiste", "chirurgien-dentiste.mssante.fr", 6, []string{"Orthopédie dento-faciale", ""}},
	{"50", "Sage-Femme", "sagefemme.mssante.fr", 3, nil},
	{"91", "Orthophoniste", "orthophoniste.mssante.fr", 2, nil},
}

var services = []string{"Cardiologie", "Neurologie", "Urgences", "Pédiatrie", "Maternité", "Radiologie",
	"Laboratoire", "Oncologie", "Néphrologie", "Secrétariat médical", "Pneumologie", "Chirurgie viscérale"}

var voies = []string{"de la République", "Victor Hugo", "Pasteur", "Jean Jaurès", "du Général de Gaulle",
	"des Lilas", "de la Gare", "Gambetta", "Carnot", "du Marché"}

var syllables = strings.Fields("BA BE BI BO BOU CA CHA CHE CO DA DE DI DU FA FE FO GA GE GI GO LA LE LI LO LOU MA ME MI MO NA NE NI NO PA PE PI PO RA RE RI RO SA SE SI SO TA TE TI TO VA VE VI VO ZA")
var endings = strings.Fields("N T R S ND RD LT UX AUD ARD IN ET OT IER AS EZ Y")

// Generator writes lines one at a time.
type Generator struct {
	rng   *rand.Rand
	w     *bufio.Writer
	n     int
	prof  []int // cumulative weights
	total int
}

// New returns a generator writing to w (the header is written by the first Next).
func New(w io.Writer, seed uint64) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), w: bufio.NewWriterSize(w, 1<<20)}
	for _, p := range professions {
		g.total += p.weight
		g.prof = append(g.prof, g.total)
	}
	return g
}

// family draws a family name: 10% from the common names, weighted 1/(rank+10) so that
// MARTIN, the first, comes out about 0.3% of the time as in France, and the 230 of them make
// ~10% of the lines; 90% from a long tail of made-up names (three or four syllables and an
// ending: about two million possible).
func (g *Generator) family() string {
	if g.rng.IntN(10) == 0 {
		f := g.rng.Float64() * familyCum[len(familyCum)-1]
		i, _ := slices.BinarySearch(familyCum, f)
		return families[min(i, len(families)-1)]
	}
	n := 3 + g.rng.IntN(2)
	var b strings.Builder
	for range n {
		b.WriteString(syllables[g.rng.IntN(len(syllables))])
	}
	b.WriteString(endings[g.rng.IntN(len(endings))])
	return b.String()
}

// familyCum holds the cumulative weights of families.
var familyCum = func() []float64 {
	c := make([]float64, len(families))
	sum := 0.0
	for i := range families {
		sum += 1 / float64(i+10)
		c[i] = sum
	}
	return c
}()

func ascii(s string) string {
	r := strings.NewReplacer("é", "e", "è", "e", "ë", "e", "É", "E", "ç", "c", "ï", "i", "î", "i", "ô", "o", "'", "", "-", "")
	return strings.ToLower(r.Replace(s))
}

// Next writes one line (the header first) and returns what it holds.
func (g *Generator) Next() (Line, error) {
	if g.n == 0 {
		if _, err := g.w.WriteString(Header + "\n"); err != nil {
			return Line{}, err
		}
	}
	g.n++
	i := g.n
	r := g.rng
	t := towns[r.IntN(len(towns))]
	var l Line
	l.Town, l.Postcode = t.name, t.postcode
	dep := t.postcode[:2]
	if dep == "97" {
		dep = t.postcode[:3]
	} else if dep == "20" {
		dep = "2A"
		if t.postcode == "20200" {
			dep = "2B"
		}
	}
	demat := "N"
	if r.IntN(4) == 0 {
		demat = "O"
	}
	voie := voies[r.IntN(len(voies))]
	num := 1 + r.IntN(120)
	var err error
	switch k := r.IntN(100); {
	case k < 85: // a professional's box
		w := r.IntN(g.total)
		p := professions[0]
		for j, c := range g.prof {
			if w < c {
				p = professions[j]
				break
			}
		}
		spec := ""
		if len(p.specialties) > 0 {
			spec = p.specialties[r.IntN(len(p.specialties))]
		}
		l.Kind, l.Family, l.Given, l.Profession = "PER", g.family(), givens[r.IntN(len(givens))], p.label
		// Unique 11-digit numbers: i times a constant prime to 10^10, modulo 10^10.
		l.RPPS = fmt.Sprintf("1%010d", (uint64(i)*1000000007+12345)%10000000000)
		civ := "DR"
		if p.code != "10" && p.code != "40" && p.code != "21" {
			civ = []string{"M", "MME"}[r.IntN(2)]
		}
		structure := "Cabinet du Dr " + l.Family
		switch {
		case p.code == "21":
			structure = "Pharmacie " + []string{"du Centre", "de la Gare", "Centrale", "des Halles"}[r.IntN(4)]
		case r.IntN(4) == 0:
			structure = "Centre Hospitalier de " + t.name
		case r.IntN(3) == 0:
			structure = "Maison de santé pluriprofessionnelle " + voie
		}
		l.Address = fmt.Sprintf("%s.%s%s@%s", ascii(l.Given), ascii(l.Family), base36(i), p.domain)
		_, err = fmt.Fprintf(g.w, "PER|%s|8|%s|8%s||||%s|%s|%s|C|Civil|%s|%s|%s|%s|%s|%s||||%d||R|%s||%s %s|%s|%s|FRANCE\n",
			l.Address, l.RPPS, l.RPPS, civ, l.Family, l.Given, p.code, p.label, specCode(spec), spec, demat,
			structure, num, voie, t.postcode, t.name, t.postcode, dep)
	case k < 97: // a service's box
		svc := services[r.IntN(len(services))]
		l.Kind = "ORG"
		l.Address = fmt.Sprintf("%s.%s@ch-%s.mssante.fr", ascii(strings.ReplaceAll(svc, " ", "-")), base36(i), ascii(strings.ReplaceAll(strings.ToLower(t.name), " ", "-")))
		_, err = fmt.Fprintf(g.w, "ORG|%s||||1|1%08d|%s||||||||||%s|Centre Hospitalier de %s|CH %s|||%d||R|%s||%s %s|%s|%s|FRANCE\n",
			l.Address, i%100000000, svc, demat, t.name, t.name, num, voie, t.postcode, t.name, t.postcode, dep)
	default: // an applicative box
		l.Kind = "APP"
		l.Address = fmt.Sprintf("logiciel.%s@ch-%s.mssante.fr", base36(i), ascii(strings.ReplaceAll(strings.ToLower(t.name), " ", "-")))
		_, err = fmt.Fprintf(g.w, "APP|%s||||1|1%08d|||||||||||N|Centre Hospitalier de %s||||%d||R|%s||%s %s CEDEX|%s|%s|FRANCE\n",
			l.Address, i%100000000, t.name, num, voie, t.postcode, t.name, t.postcode, dep)
	}
	return l, err
}

func specCode(s string) string {
	if s == "" {
		return ""
	}
	return "SM" + fmt.Sprint(len(s))
}

func base36(i int) string { return fmt.Sprintf("%x", i) }

// Flush writes what is buffered.
func (g *Generator) Flush() error { return g.w.Flush() }

// Write writes the header and n lines to w.
func Write(w io.Writer, n int, seed uint64) error {
	g := New(w, seed)
	for range n {
		if _, err := g.Next(); err != nil {
			return err
		}
	}
	if n == 0 {
		if _, err := io.WriteString(w, Header+"\n"); err != nil {
			return err
		}
	}
	return g.Flush()
}
