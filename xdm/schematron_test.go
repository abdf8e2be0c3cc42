package xdm

// The ANS minimal-structure schematron (../shared/schemas/schematron/structurationMinimale)
// needs the ISO skeleton stylesheets and an XSLT 2 processor to run; these Go assertions
// restate the rules of it that concern the header of an N1 document, so that every
// document BuildCDA writes is checked without them. The full schematron run stays part of
// the acceptance.
//
// Rules asserted, by file:
//
// ASIP-STRUCT-MIN-StrucMin.sch
//   - SMDS_CDAClinicalDocument (rule context "/"): a ClinicalDocument with typeId
//     2.16.840.1.113883.1.3 / POCD_HD000040.
//
// include/1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch
//   - SMDS_CDAClinicalDocument: classCode DOCCLIN and moodCode EVN when present; realmCode FR
//     [1..1]; typeId [1..1]; templateId 2.16.840.1.113883.2.8.2.1 [1..1], 1.2.250.1.213.1.1.1.1
//     [1..1], another templateId [1..*]; for a nonXMLBody exactly three templateIds, those two
//     and 1.3.6.1.4.1.19376.1.2.20; id, code, title, effectiveTime, confidentialityCode,
//     languageCode, setId, versionNumber [1..1] and not null; code with code, codeSystem and
//     displayName; effectiveTime with a ts value; confidentialityCode with code, displayName,
//     codeSystem, in value set 2.16.840.1.113883.1.11.10228; languageCode like "fr-FR"; setId
//     with a root; versionNumber an integer; recordTarget [1..1]; author [1..*]; dataEnterer
//     [0..1]; custodian [1..1]; legalAuthenticator with signatureCode S [1..1]; documentationOf
//     [1..*] whose first serviceEvent has exactly one performer and one effectiveTime;
//     relatedDocument RPLC [0..1]; componentOf [1..1]; component [1..1]; the INS rule: with an
//     INS root (1.2.250.1.213.1.4.8/9/10/11), family@qualifier=BR, given@qualifier=BR, a given
//     without qualifier, birthTime, birthplace/place/addr/county and administrativeGenderCode/@code.
//   - CI-SISRecordTarget: patientRole [1..1] with id (root and extension) [1..*] and patient
//     [1..1]; patient: name [1..1], administrativeGenderCode [1..1] in JDV_J143
//     (voc-1.2.250.1.213.1.1.5.590), birthTime [1..1] with a value, birthplace [0..1] with
//     place [1..1]; name: given [1..*], family [1..*] each with a qualifier, qualifiers BR or CL
//     only, prefix and suffix [0..1].
//   - CI-SISAuthor: time [1..1] with a value, functionCode [0..1] with code and codeSystem in
//     JDV_J47 (voc-…5.124), assignedAuthor [1..1] with id (root and extension) [1..*], code
//     [0..1] with code, displayName, codeSystem in JDV_J01 (voc-…5.461), assignedPerson/name
//     [1..1] with family [1..1], given [0..1]; representedOrganization [0..1], its id under
//     1.2.250.1.71.4.2.2 with an extension [0..1], name [0..1].
//   - CI-SISCustodian: assignedCustodian [1..1], representedCustodianOrganization [1..1], id
//     [1..1] with root 1.2.250.1.71.4.2.2 or 1.2.250.1.213.4.1, name [0..1].
//   - CI-SISLegalAuthenticator: time [1..1] with a value, signatureCode S [1..1], assignedEntity
//     [1..1] with id (root and extension) [1..1], assignedPerson/name with family [1..1] and
//     given [0..1], representedOrganization id under 1.2.250.1.71.4.2.2.
//   - CI-SISDocumentationOf: serviceEvent [1..1]; code [0..1] with code and codeSystem;
//     effectiveTime [0..1] with low [1..1] (value) and high [0..1]; performer typeCode PRF
//     [0..1] with assignedEntity [1..1]: id [1..1], code [0..1] in JDV_J01, representedOrganization
//     [1..1] with id under 1.2.250.1.71.4.2.2, standardIndustryClassCode [1..1] in JDV_J04
//     (voc-…5.467) with displayName and codeSystem.
//   - CI-SISComponentOf: encompassingEncounter [1..1] with effectiveTime [1..1] and location
//     [1..1]; healthCareFacility [1..1] with code [1..1] in JDV_J02 (voc-…5.466), displayName
//     and codeSystem.
//
// include/1.2.250.1.213.1.1.1.1-2017-12-13T103531-closed.sch
//   - the closed content models (no element other than the listed ones) of ClinicalDocument,
//     recordTarget, patientRole, patient, patient/name, birthplace, place, author,
//     assignedAuthor, assignedPerson and its name, author's representedOrganization, custodian,
//     assignedCustodian, representedCustodianOrganization, legalAuthenticator and its
//     assignedEntity, documentationOf, serviceEvent and its effectiveTime, performer, its
//     assignedEntity and representedOrganization, componentOf, encompassingEncounter, location,
//     healthCareFacility, component.
//
// Not asserted: JDV_J07 typeCode membership (voc-1.2.250.1.213.1.1.5.471 is missing from
// ../shared's include/), the datatype schematrons (DTr1_*.sch), and the rules on elements
// BuildCDA never writes (informant, participant, informationRecipient, authenticator,
// inFulfillmentOf, authorization, relatedDocument, guardian, addresses and telecoms).

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type dom struct {
	name  string
	attrs map[string]string
	kids  []*dom
	text  string
}

func parseDOM(b []byte) (*dom, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*dom
	var root *dom
	for {
		tok, err := dec.Token()
		if err != nil {
			if root != nil && err.Error() == "EOF" {
				return root, nil
			}
			return root, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != nsHL7 {
				return nil, fmt.Errorf("element %s outside the HL7 namespace", t.Name.Local)
			}
			n := &dom{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
}

// all returns the children of n named name; nil n has none.
func (n *dom) all(name string) []*dom {
	if n == nil {
		return nil
	}
	var r []*dom
	for _, k := range n.kids {
		if k.name == name {
			r = append(r, k)
		}
	}
	return r
}

// one returns the first child named name, or nil.
func (n *dom) one(name string) *dom {
	if r := n.all(name); len(r) > 0 {
		return r[0]
	}
	return nil
}

func (n *dom) at(path ...string) *dom {
	for _, p := range path {
		n = n.one(p)
	}
	return n
}

func (n *dom) attr(name string) string {
	if n == nil {
		return ""
	}
	return n.attrs[name]
}

// valueSets are the ANS value sets shipped with the schematron (include/voc-*.xml).
type valueSets map[string]map[string]bool // value set OID -> "code|codeSystem"

func loadValueSets(t testing.TB) valueSets {
	dir := filepath.Join(sharedSchemas(t), "schematron", "structurationMinimale", "include")
	files, _ := filepath.Glob(filepath.Join(dir, "voc-*-DYNAMIC.xml"))
	if len(files) == 0 {
		t.Skipf("no value sets in %s", dir)
	}
	re := regexp.MustCompile(`<concept code="([^"]*)" codeSystem="([^"]*)"`)
	vs := valueSets{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		oid := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "voc-"), "-DYNAMIC.xml")
		vs[oid] = map[string]bool{}
		for _, m := range re.FindAllSubmatch(b, -1) {
			vs[oid][string(m[1])+"|"+string(m[2])] = true
		}
	}
	return vs
}

// checker collects the violations, each prefixed with its rule.
type checker struct {
	errs []string
	vs   valueSets
}

func (c *checker) fail(rule, format string, a ...any) {
	c.errs = append(c.errs, rule+": "+fmt.Sprintf(format, a...))
}

func (c *checker) count(rule string, parent *dom, name string, min, max int) []*dom {
	els := parent.all(name)
	var kept []*dom
	for _, e := range els {
		if e.attr("nullFlavor") == "" {
			kept = append(kept, e)
		}
	}
	if len(kept) < min || (max >= 0 && len(kept) > max) {
		where := "?"
		if parent != nil {
			where = parent.name
		}
		c.fail(rule, "%s/%s: %d (expected [%d..%s])", where, name, len(kept), min, maxString(max))
	}
	return kept
}

func maxString(max int) string {
	if max < 0 {
		return "*"
	}
	return fmt.Sprint(max)
}

// closed is the -closed.sch rule: no child of n other than allowed.
func (c *checker) closed(n *dom, allowed ...string) {
	if n == nil {
		return
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, k := range n.kids {
		if !ok[k.name] {
			c.fail("closed.sch", "%s: element %s not allowed", n.name, k.name)
		}
	}
}

func (c *checker) attrs(rule string, n *dom, names ...string) {
	if n == nil {
		return
	}
	for _, a := range names {
		if strings.TrimSpace(n.attr(a)) == "" {
			c.fail(rule, "%s: attribute @%s required", n.name, a)
		}
	}
}

func (c *checker) inValueSet(rule string, n *dom, oid string) {
	if n == nil || c.vs == nil {
		return
	}
	if !c.vs[oid][n.attr("code")+"|"+n.attr("codeSystem")] {
		c.fail(rule, "%s code %s (%s) not in value set %s", n.name, n.attr("code"), n.attr("codeSystem"), oid)
	}
}

var (
	reTS  = regexp.MustCompile(`^[0-9]{1,8}$|^([0-9]{9,14}|[0-9]{14}\.[0-9]+)([+\-][0-9]{1,4})?$`)
	reUID = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))*$|^[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}$`)
)

func (c *checker) ts(rule string, n *dom) {
	if n == nil {
		return
	}
	if !reTS.MatchString(n.attr("value")) {
		c.fail(rule, "%s: @value %q is not a ts", n.name, n.attr("value"))
	}
}

func (c *checker) ii(rule string, n *dom, needExtension bool) {
	if n == nil {
		return
	}
	if !reUID.MatchString(n.attr("root")) {
		c.fail(rule, "%s: @root %q is not a uid", n.name, n.attr("root"))
	}
	if needExtension && n.attr("extension") == "" {
		c.fail(rule, "%s: @extension required", n.name)
	}
}

func (c *checker) personName(rule string, n *dom) {
	if n == nil {
		return
	}
	c.count(rule, n, "family", 1, 1)
	c.count(rule, n, "given", 0, 1)
	c.count(rule, n, "prefix", 0, 1)
	c.count(rule, n, "suffix", 0, 1)
	c.closed(n, "family", "given", "prefix", "suffix")
}

const (
	ruleDoc        = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch SMDS_CDAClinicalDocument"
	ruleRecord     = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch CI-SISRecordTarget"
	ruleAuthor     = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch CI-SISAuthor"
	ruleCustodian  = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch CI-SISCustodian"
	ruleLegal      = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch CI-SISLegalAuthenticator"
	ruleDocOf      = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch CI-SISDocumentationOf"
	ruleComponent  = "1.2.250.1.213.1.1.1.1-2017-12-13T103531.sch CI-SISComponentOf"
	ruleStrucMin   = "ASIP-STRUCT-MIN-StrucMin.sch SMDS_CDAClinicalDocument"
	vsConfidential = "2.16.840.1.113883.1.11.10228"
	vsGender       = "1.2.250.1.213.1.1.5.590"
	vsFunction     = "1.2.250.1.213.1.1.5.124"
	vsSpecialty    = "1.2.250.1.213.1.1.5.461"
	vsFacility     = "1.2.250.1.213.1.1.5.466"
	vsPractice     = "1.2.250.1.213.1.1.5.467"
)

// checkN1Header returns the violations of the rules listed at the top of this file.
func checkN1Header(b []byte, vs valueSets) []string {
	root, err := parseDOM(b)
	if err != nil {
		return []string{"XML: " + err.Error()}
	}
	c := &checker{vs: vs}
	if root.name != "ClinicalDocument" {
		return []string{ruleStrucMin + ": no ClinicalDocument"}
	}
	if ti := root.one("typeId"); ti.attr("root") != cdaTypeIDRoot || ti.attr("extension") != cdaTypeIDExtension {
		c.fail(ruleStrucMin, "typeId %v", ti)
	}
	if v := root.attr("classCode"); v != "" && v != "DOCCLIN" {
		c.fail(ruleDoc, "classCode %s", v)
	}
	if v := root.attr("moodCode"); v != "" && v != "EVN" {
		c.fail(ruleDoc, "moodCode %s", v)
	}
	realms := 0
	for _, r := range root.all("realmCode") {
		if r.attr("code") == "FR" {
			realms++
		}
	}
	if realms != 1 {
		c.fail(ruleDoc, "%d realmCode FR", realms)
	}
	c.count(ruleDoc, root, "typeId", 1, 1)
	templates := map[string]int{}
	for _, tid := range root.all("templateId") {
		templates[tid.attr("root")]++
	}
	if templates[TemplateHL7France] != 1 || templates[TemplateCISIS] != 1 {
		c.fail(ruleDoc, "templateIds %v", templates)
	}
	if len(root.all("templateId")) < 3 {
		c.fail(ruleDoc, "no templateId besides the HL7 France and CI-SIS ones")
	}
	body := root.at("component", "nonXMLBody")
	if body != nil && (len(root.all("templateId")) != 3 || templates[TemplateIHEXDSSD] != 1) {
		c.fail(ruleDoc, "[CI-SIS_StructurationMinimale] non-structured document: templateIds %v", templates)
	}
	for _, name := range []string{"id", "code", "title", "effectiveTime", "confidentialityCode", "languageCode", "setId", "versionNumber"} {
		c.count(ruleDoc, root, name, 1, 1)
	}
	c.ii(ruleDoc, root.one("id"), false)
	c.attrs(ruleDoc, root.one("code"), "code", "codeSystem", "displayName")
	c.ts(ruleDoc, root.one("effectiveTime"))
	conf := root.one("confidentialityCode")
	c.attrs(ruleDoc, conf, "code", "displayName", "codeSystem")
	c.inValueSet(ruleDoc, conf, vsConfidential)
	if lang := root.one("languageCode").attr("code"); !regexp.MustCompile(`^[a-z]{2}-[A-Z]{2}$`).MatchString(lang) {
		c.fail(ruleDoc, "languageCode %q", lang)
	}
	c.ii(ruleDoc, root.one("setId"), false)
	if !regexp.MustCompile(`^-?[0-9]+$`).MatchString(root.one("versionNumber").attr("value")) {
		c.fail(ruleDoc, "versionNumber %q", root.one("versionNumber").attr("value"))
	}
	c.count(ruleDoc, root, "recordTarget", 1, 1)
	c.count(ruleDoc, root, "author", 1, -1)
	c.count(ruleDoc, root, "dataEnterer", 0, 1)
	c.count(ruleDoc, root, "custodian", 1, 1)
	legal := 0
	for _, l := range root.all("legalAuthenticator") {
		if l.one("signatureCode").attr("code") == "S" {
			legal++
		}
	}
	if legal != 1 {
		c.fail(ruleDoc, "%d legalAuthenticator with signatureCode S", legal)
	}
	c.count(ruleDoc, root, "documentationOf", 1, -1)
	if se := root.at("documentationOf", "serviceEvent"); len(se.all("performer")) != 1 || len(se.all("effectiveTime")) != 1 {
		c.fail(ruleDoc, "DocumentationOf: performer and effectiveTime are required in the main act")
	}
	c.count(ruleDoc, root, "componentOf", 1, 1)
	c.count(ruleDoc, root, "component", 1, 1)
	c.closed(root, "realmCode", "typeId", "templateId", "id", "code", "title", "effectiveTime",
		"confidentialityCode", "languageCode", "setId", "versionNumber", "recordTarget", "author",
		"dataEnterer", "informant", "custodian", "informationRecipient", "legalAuthenticator",
		"authenticator", "participant", "inFulfillmentOf", "documentationOf", "relatedDocument",
		"authorization", "componentOf", "component")

	// recordTarget
	rt := root.one("recordTarget")
	c.count(ruleRecord, rt, "patientRole", 1, 1)
	c.closed(rt, "patientRole")
	pr := rt.one("patientRole")
	ids := c.count(ruleRecord, pr, "id", 1, -1)
	for _, id := range ids {
		c.ii(ruleRecord, id, true)
	}
	c.count(ruleRecord, pr, "patient", 1, 1)
	c.closed(pr, "id", "addr", "telecom", "patient")
	pat := pr.one("patient")
	c.count(ruleRecord, pat, "name", 1, 1)
	c.count(ruleRecord, pat, "administrativeGenderCode", 1, 1)
	c.count(ruleRecord, pat, "birthTime", 1, 1)
	c.count(ruleRecord, pat, "birthplace", 0, 1)
	c.closed(pat, "name", "administrativeGenderCode", "birthTime", "deceasedInd", "deceasedTime",
		"multipleBirthInd", "multipleBirthOrderNumber", "guardian", "birthplace")
	gender := pat.one("administrativeGenderCode")
	c.attrs(ruleRecord, gender, "code")
	c.inValueSet(ruleRecord, gender, vsGender)
	c.attrs(ruleRecord, pat.one("birthTime"), "value")
	c.ts(ruleRecord, pat.one("birthTime"))
	if bp := pat.one("birthplace"); bp != nil {
		c.count(ruleRecord, bp, "place", 1, 1)
		c.closed(bp, "place")
		c.closed(bp.one("place"), "addr", "name")
	}
	name := pat.one("name")
	c.count(ruleRecord, name, "given", 1, -1)
	c.count(ruleRecord, name, "prefix", 0, 1)
	c.count(ruleRecord, name, "suffix", 0, 1)
	for _, f := range c.count(ruleRecord, name, "family", 1, -1) {
		if q := f.attr("qualifier"); q != "BR" && q != "CL" {
			c.fail(ruleRecord, "family qualifier %q (BR or CL, required)", q)
		}
	}
	for _, g := range name.all("given") {
		if q := g.attr("qualifier"); q != "" && q != "BR" && q != "CL" {
			c.fail(ruleRecord, "given qualifier %q", q)
		}
	}
	c.closed(name, "given", "family", "prefix", "suffix")
	insRoot := false
	for _, id := range ids {
		switch id.attr("root") {
		case OIDINSNIR, OIDINSNIA, OIDINSNIRTest, OIDINSNIRDemo:
			insRoot = insRoot || id.attr("extension") != ""
		}
	}
	if insRoot {
		has := func(els []*dom, pred func(*dom) bool) bool {
			for _, e := range els {
				if pred(e) {
					return true
				}
			}
			return false
		}
		ok := has(name.all("family"), func(e *dom) bool { return e.attr("qualifier") == "BR" }) &&
			has(name.all("given"), func(e *dom) bool { return e.attr("qualifier") == "BR" }) &&
			has(name.all("given"), func(e *dom) bool { _, q := e.attrs["qualifier"]; return !q }) &&
			pat.one("birthTime") != nil &&
			pat.at("birthplace", "place", "addr", "county") != nil &&
			gender.attr("code") != ""
		if !ok {
			c.fail(ruleDoc, "Dans le cadre de l'INS, les traits de l'INS (nom de naissance, premier prénom, prénoms, date et lieu de naissance (COG), sexe) sont obligatoires")
		}
	}

	// author
	for _, a := range root.all("author") {
		c.count(ruleAuthor, a, "time", 1, 1)
		c.ts(ruleAuthor, a.one("time"))
		c.count(ruleAuthor, a, "functionCode", 0, 1)
		if fc := a.one("functionCode"); fc != nil {
			c.attrs(ruleAuthor, fc, "code", "codeSystem")
			c.inValueSet(ruleAuthor, fc, vsFunction)
		}
		c.count(ruleAuthor, a, "assignedAuthor", 1, 1)
		c.closed(a, "functionCode", "time", "assignedAuthor")
		aa := a.one("assignedAuthor")
		for _, id := range c.count(ruleAuthor, aa, "id", 1, -1) {
			c.ii(ruleAuthor, id, true)
		}
		c.count(ruleAuthor, aa, "code", 0, 1)
		if code := aa.one("code"); code != nil {
			c.attrs(ruleAuthor, code, "code", "displayName", "codeSystem")
			c.inValueSet(ruleAuthor, code, vsSpecialty)
		}
		c.count(ruleAuthor, aa, "assignedPerson", 0, 1)
		c.count(ruleAuthor, aa, "representedOrganization", 0, 1)
		c.closed(aa, "id", "code", "addr", "telecom", "assignedPerson", "assignedAuthoringDevice", "representedOrganization")
		if ap := aa.one("assignedPerson"); ap != nil {
			c.count(ruleAuthor, ap, "name", 1, 1)
			c.closed(ap, "name")
			c.personName(ruleAuthor, ap.one("name"))
		}
		if ro := aa.one("representedOrganization"); ro != nil {
			c.organization(ruleAuthor, ro, false)
			c.closed(ro, "id", "name", "addr", "telecom", "standardIndustryClassCode")
		}
	}

	// custodian
	cu := root.one("custodian")
	c.count(ruleCustodian, cu, "assignedCustodian", 1, 1)
	c.closed(cu, "assignedCustodian")
	ac := cu.one("assignedCustodian")
	c.count(ruleCustodian, ac, "representedCustodianOrganization", 1, 1)
	c.closed(ac, "representedCustodianOrganization")
	rco := ac.one("representedCustodianOrganization")
	c.count(ruleCustodian, rco, "id", 1, 1)
	c.count(ruleCustodian, rco, "name", 0, 1)
	c.closed(rco, "id", "name", "telecom", "addr")
	if r := rco.one("id").attr("root"); r != OIDStructIdNat && r != "1.2.250.1.213.4.1" {
		c.fail(ruleCustodian, "custodian id root %q", r)
	}

	// legalAuthenticator
	la := root.one("legalAuthenticator")
	c.count(ruleLegal, la, "time", 1, 1)
	c.ts(ruleLegal, la.one("time"))
	c.count(ruleLegal, la, "signatureCode", 1, 1)
	c.count(ruleLegal, la, "assignedEntity", 1, 1)
	c.closed(la, "time", "signatureCode", "assignedEntity")
	lae := la.one("assignedEntity")
	for _, id := range c.count(ruleLegal, lae, "id", 1, 1) {
		c.ii(ruleLegal, id, true)
	}
	c.closed(lae, "id", "code", "addr", "telecom", "assignedPerson", "representedOrganization")
	if ap := lae.one("assignedPerson"); ap != nil {
		c.count(ruleLegal, ap, "name", 1, 1)
		c.closed(ap, "name")
		c.personName(ruleLegal, ap.one("name"))
	}
	if ro := lae.one("representedOrganization"); ro != nil {
		c.organization(ruleLegal, ro, false)
	}

	// documentationOf
	for _, do := range root.all("documentationOf") {
		c.count(ruleDocOf, do, "serviceEvent", 1, 1)
		c.closed(do, "serviceEvent")
		se := do.one("serviceEvent")
		c.count(ruleDocOf, se, "code", 0, 1)
		if code := se.one("code"); code != nil && code.attr("nullFlavor") == "" {
			c.attrs(ruleDocOf, code, "code", "codeSystem")
		}
		c.count(ruleDocOf, se, "effectiveTime", 0, 1)
		if et := se.one("effectiveTime"); et != nil {
			c.count(ruleDocOf, et, "low", 1, 1)
			c.count(ruleDocOf, et, "high", 0, 1)
			c.ts(ruleDocOf, et.one("low"))
			c.closed(et, "low", "high")
		}
		c.closed(se, "id", "code", "statusCode", "effectiveTime", "performer")
		c.count(ruleDocOf, se, "performer", 0, 1)
		if pf := se.one("performer"); pf != nil {
			if pf.attr("typeCode") != "PRF" {
				c.fail(ruleDocOf, "performer typeCode %q", pf.attr("typeCode"))
			}
			c.count(ruleDocOf, pf, "assignedEntity", 1, 1)
			c.closed(pf, "templateId", "functionCode", "time", "assignedEntity")
			ae := pf.one("assignedEntity")
			c.count(ruleDocOf, ae, "id", 1, 1)
			c.count(ruleDocOf, ae, "code", 0, 1)
			c.inValueSet(ruleDocOf, ae.one("code"), vsSpecialty)
			c.count(ruleDocOf, ae, "representedOrganization", 1, 1)
			c.closed(ae, "id", "code", "telecom", "addr", "assignedPerson", "representedOrganization")
			if ap := ae.one("assignedPerson"); ap != nil {
				c.closed(ap, "name")
				c.personName(ruleDocOf, ap.one("name"))
			}
			ro := ae.one("representedOrganization")
			c.organization(ruleDocOf, ro, true)
			c.closed(ro, "id", "name", "telecom", "addr", "standardIndustryClassCode", "asOrganizationPartOf")
			sic := c.count(ruleDocOf, ro, "standardIndustryClassCode", 1, 1)
			for _, s := range sic {
				c.attrs(ruleDocOf, s, "code", "displayName", "codeSystem")
				c.inValueSet(ruleDocOf, s, vsPractice)
			}
		}
	}

	// componentOf
	co := root.one("componentOf")
	c.count(ruleComponent, co, "encompassingEncounter", 1, 1)
	c.closed(co, "encompassingEncounter")
	ee := co.one("encompassingEncounter")
	c.count(ruleComponent, ee, "effectiveTime", 1, 1)
	c.count(ruleComponent, ee, "location", 1, 1)
	c.closed(ee, "id", "code", "effectiveTime", "dischargeDispositionCode", "responsibleParty",
		"encounterParticipant", "location")
	c.closed(ee.one("effectiveTime"), "low", "high")
	loc := ee.one("location")
	c.count(ruleComponent, loc, "healthCareFacility", 1, 1)
	c.closed(loc, "healthCareFacility")
	hcf := loc.one("healthCareFacility")
	c.closed(hcf, "id", "code", "location")
	for _, code := range c.count(ruleComponent, hcf, "code", 1, 1) {
		c.attrs(ruleComponent, code, "code", "displayName", "codeSystem")
		c.inValueSet(ruleComponent, code, vsFacility)
	}

	c.closed(root.one("component"), "structuredBody", "nonXMLBody")
	if body == nil && root.at("component", "structuredBody") == nil {
		c.fail(ruleDoc, "component without body")
	}
	return c.errs
}

// organization checks a representedOrganization: id under 1.2.250.1.71.4.2.2 with an
// extension [0..1] (or [1..*] ids when required), name [0..1].
func (c *checker) organization(rule string, ro *dom, idRequired bool) {
	if ro == nil {
		return
	}
	n := 0
	for _, id := range ro.all("id") {
		if id.attr("root") == OIDStructIdNat {
			n++
			if id.attr("extension") == "" {
				c.fail(rule, "%s id without extension", ro.name)
			}
		}
	}
	if n > 1 || (idRequired && len(ro.all("id")) == 0) {
		c.fail(rule, "%s: %d ids under %s", ro.name, n, OIDStructIdNat)
	}
	c.count(rule, ro, "name", 0, 1)
}

func TestN1HeaderRules(t *testing.T) {
	vs := loadValueSets(t)
	for _, c := range cdaCases(t) {
		t.Run(c.name, func(t *testing.T) {
			b, err := BuildCDA(c.doc)
			if err != nil {
				t.Fatal(err)
			}
			errs := checkN1Header(b, vs)
			if c.doc.Patient.BirthPlace == "" {
				// Known and documented: without the birth place (COG) the INS rule cannot hold.
				if len(errs) != 1 || !strings.Contains(errs[0], "traits de l'INS") {
					t.Fatalf("want only the INS-traits violation, got %q", errs)
				}
				return
			}
			for _, e := range errs {
				t.Error(e)
			}
		})
	}
}

// TestN1HeaderRulesOnTheANSExample runs the same assertions on the ANS example, so that a
// rule restated wrongly here shows up as a failure on a document the ANS made.
func TestN1HeaderRulesOnTheANSExample(t *testing.T) {
	vs := loadValueSets(t)
	b, err := os.ReadFile(filepath.Join(sharedSchemas(t), "examples", "DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
	if err != nil {
		t.Skip(err)
	}
	for _, e := range checkN1Header(b, vs) {
		t.Error(e)
	}
}

// TestN1HeaderRulesCatchViolations proves the assertions are not vacuous.
func TestN1HeaderRulesCatchViolations(t *testing.T) {
	vs := loadValueSets(t)
	good := string(must(BuildCDA(sampleDocument(t))))
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"fourth templateId", `<templateId root="1.3.6.1.4.1.19376.1.2.20"/>`,
			`<templateId root="1.3.6.1.4.1.19376.1.2.20"/><templateId root="1.2.250.1.213.1.1.1.4"/>`, "CI-SIS_StructurationMinimale"},
		{"no XDS-SD templateId", `<templateId root="1.3.6.1.4.1.19376.1.2.20"/>`, `<templateId root="1.2.3"/>`, "CI-SIS_StructurationMinimale"},
		{"family without qualifier", `<family qualifier="BR">DUPRÉ</family>`, `<family>DUPRÉ</family>`, "family qualifier"},
		{"no birth place", `<county>69123</county>`, ``, "traits de l'INS"},
		{"gender U", `code="F" displayName="Féminin"`, `code="U" displayName="Inconnu"`, vsGender},
		{"unknown facility", `code="SA05"`, `code="SA99"`, vsFacility},
		{"second title", `<languageCode`, `<title>x</title><languageCode`, "title"},
		{"custodian under another root", `<id root="1.2.250.1.71.4.2.2" extension="312345678900012"/>`,
			`<id root="1.2.250.1.71.4.2.1" extension="312345678900012"/>`, "custodian id root"},
		{"no performer", `<performer typeCode="PRF">`, `<performer typeCode="PRF"/><x>`, "performer"},
		{"extra element", `<languageCode code="fr-FR"/>`, `<languageCode code="fr-FR"/><copyTime value="2024"/>`, "copyTime not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(good, c.from, c.to, 1)
			if doc == good {
				t.Fatalf("mutation %q did not apply", c.from)
			}
			if c.name == "no performer" {
				doc = strings.Replace(doc, "</performer>", "</x>", 1)
			}
			errs := strings.Join(checkN1Header([]byte(doc), vs), "\n")
			if !strings.Contains(errs, c.want) {
				t.Fatalf("want a violation mentioning %q, got:\n%s", c.want, errs)
			}
		})
	}
}
