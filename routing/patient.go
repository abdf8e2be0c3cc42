package routing

import (
	"fmt"
	"strings"

	"github.com/mssbridge/mssbridge/ins"
	"github.com/mssbridge/mssbridge/reading"
)

// PatientDomain hosts the patients' own messaging (Mon Espace Santé): INS@patient.mssante.fr.
const PatientDomain = "patient.mssante.fr"

// IsPatient reports whether an address is a patient's.
func IsPatient(addr string) bool {
	return strings.HasSuffix(strings.ToLower(addr), "@"+PatientDomain)
}

// CheckPatientRecipients returns the reasons, in French, why these recipients must not be sent
// to: a patient address whose INS is malformed or has a wrong key, one that is not the
// document's patient, or a patient mixed with professionals in one message (what a patient
// reads is worded for him, and he must not see who else received it).
func CheckPatientRecipients(addrs []string, p reading.Patient) []string {
	var reasons []string
	patients, pros := 0, 0
	for _, a := range addrs {
		if !IsPatient(a) {
			pros++
			continue
		}
		patients++
		local := a[:strings.IndexByte(a, '@')]
		n, ok, err := ins.Check(local)
		switch {
		case err != nil:
			reasons = append(reasons, fmt.Sprintf("Adresse patient %s : l'INS est mal formé (%v)", a, err))
		case !ok:
			reasons = append(reasons, fmt.Sprintf("Adresse patient %s : la clé de l'INS est fausse", a))
		case p.INS != "" && !strings.EqualFold(n, p.INS):
			reasons = append(reasons, fmt.Sprintf("Adresse patient %s : ce n'est pas l'INS du patient du document", a))
		}
	}
	if patients > 0 && pros > 0 {
		reasons = append(reasons, "Un message au patient part seul : il ne peut pas être envoyé en même temps à des professionnels")
	}
	if patients > 1 {
		reasons = append(reasons, "Un message ne peut s'adresser qu'à un seul patient")
	}
	return reasons
}
