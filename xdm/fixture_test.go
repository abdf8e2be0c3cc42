package xdm

import (
	"os"
	"testing"
	"time"
)

var paris = time.FixedZone("CET", 3600)

func samplePDF(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/lettre.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleDocument is a complete document: every optional field set.
func sampleDocument(t testing.TB) Document {
	return Document{
		ID:              ID{Root: "1.2.250.1.999.1.2.3", Extension: "JOB-0042"},
		SetID:           ID{Root: "1.2.250.1.999.1.2.4"},
		Version:         1,
		Type:            Code{Code: "11490-0", System: SystemLOINC, Display: "Lettre de liaison à la sortie d'un établissement de soins"},
		Title:           "Lettre de liaison — sortie du 3 mars",
		EffectiveTime:   time.Date(2024, 3, 4, 10, 30, 0, 0, paris),
		Confidentiality: "N",
		Language:        "fr-FR",
		Patient: Patient{
			INS: "256036912304545", INSOID: OIDINSNIRTest,
			FamilyName: "DUPRÉ", GivenNames: "Jeanne Marie", FirstGivenName: "Jeanne",
			UsedFamilyName: "MARTIN", UsedGivenName: "Jeanne",
			BirthDate: "1956-03-12", Sex: "F", BirthPlace: "69123",
		},
		Author: Author{
			RPPS: "10001234567", FamilyName: "MERCIER", GivenName: "Paul",
			Specialty:    Code{Code: "G15_10/SM54", System: SystemProfessionSavoirFaire, Display: "Médecin - Qualifié en Médecine Générale (SM)"},
			Role:         Code{Code: "PCP", System: "2.16.840.1.113883.5.88", Display: "Médecin traitant"},
			Organization: Organization{FINESS: "690000001", Name: "Cabinet du Dr Mercier & associés"},
		},
		Custodian:              Organization{SIRET: "12345678900012", Name: "Centre de santé <Les Tilleuls>"},
		ServiceStart:           time.Date(2024, 3, 1, 8, 0, 0, 0, paris),
		ServiceStop:            time.Date(2024, 3, 3, 17, 0, 0, 0, paris),
		ServiceEvent:           Code{Code: "GLLD015", System: "1.2.250.1.213.2.5", Display: "Acte CCAM de test"},
		HealthcareFacilityType: Code{Code: "SA05", System: SystemSecteurActivite, Display: "Centre de santé"},
		PracticeSetting:        Code{Code: "AMBULATOIRE", System: SystemCadreExercice, Display: "Ambulatoire"},
		PDF:                    samplePDF(t),
	}
}

// minimalDocument has only what is required: everything else takes its default.
func minimalDocument(t testing.TB) Document {
	return Document{
		Title:   "Courrier",
		Patient: Patient{INS: "1 48 11 29 019 007 03", FamilyName: "LE GOFF", GivenNames: "Yann-Erwan", BirthDate: "1948-11-02"},
		Author: Author{RPPS: "10005678903", FamilyName: "KERMARREC",
			Organization: Organization{FINESS: "290000017", Name: "Cabinet Kermarrec"}},
		PDF: samplePDF(t),
	}
}
