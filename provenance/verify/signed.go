package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"

	"github.com/attest-build/attest-build/predicates"
)

// SignersWord lists the members of the two statements that no check covers:
// anyone holding the DSSE signing key can write any value there.
// docs/predicate.md ("verified by") says the same for every member. verify's
// report lists them (Facts.SignersWord) so that no one reads them as
// verified.
func SignersWord() []string {
	return []string{
		"tpm.mode (agrees with the SLSA builder id and internalParameters.tpm.mode; the AK's hardware origin is not proven)",
		"tpm.manufacturer", "tpm.vendorString", "tpm.ekCertificates",
		"tpm.firmwareVersion (a quote obfuscates its firmware version for a key outside the endorsement and platform hierarchies)",
		"build.argv", "build.workingDirectory", "build.startedOn", "build.finishedOn",
		"ima.reason",
		"SLSA internalParameters (tpm.pcrs, imaLog, github, gitlab)", "SLSA resolvedDependencies",
		"SLSA builder.builderDependencies", "SLSA metadata.invocationId",
	}
}

// checkSubjects is the subjects check: every subject has a SHA-256
// digest and a unique name; the two statements have the same subjects
// with the same digests of every algorithm; each artifact is a subject
// with its SHA-256 and its file name (the last element of the subject's
// name), and every other digest of that subject (sha384, sha512) is the
// artifact's; a digest of another algorithm cannot be checked and is
// refused.
func (vr *verification) checkSubjects() error {
	subs, err := subjectsOf(vr.tpmStmt)
	if err != nil {
		return vr.rep.fail(CheckSubjects, err, "subjects with unique names and sha256 digests", "not so")
	}
	slsaSubs, err := subjectsOf(vr.slsaStmt)
	if err != nil {
		return vr.rep.fail(CheckSubjects, fmt.Errorf("SLSA statement: %w", err), "subjects with unique names and sha256 digests", "not so")
	}
	if !slices.Equal(subs, slsaSubs) {
		return vr.rep.fail(CheckSubjects, ErrSubjectsMismatch, "SLSA subjects "+subjectList(subs), subjectList(slsaSubs))
	}
	tpmDigests, slsaDigests := allDigests(vr.tpmStmt), allDigests(vr.slsaStmt)
	for name, d := range tpmDigests {
		if got := slsaDigests[name]; got != d {
			return vr.rep.fail(CheckSubjects, fmt.Errorf("%w: digests of subject %q", ErrSubjectsMismatch, name), "SLSA digests "+d, orNone(got))
		}
		for _, alg := range strings.Split(d, " ") {
			a, _, _ := strings.Cut(alg, ":")
			if !slices.Contains([]string{"sha256", "sha384", "sha512"}, a) {
				return vr.rep.fail(CheckSubjects, fmt.Errorf("%w: subject %q: digest algorithm %q cannot be checked against the artifact", ErrMalformed, name, a), "sha256, sha384 or sha512 digests", alg)
			}
		}
	}
	if vr.v.bootstrapUnsafe {
		vr.artifacts = nil
		for _, s := range subs {
			vr.artifacts = append(vr.artifacts, Artifact{Name: s.Name, SHA256: s.SHA256})
		}
	}
	for _, a := range vr.artifacts {
		i := slices.IndexFunc(subs, func(s predicates.Subject) bool {
			return s.SHA256 == a.SHA256 && path.Base(s.Name) == path.Base(filepathToSlash(a.Name))
		})
		if i < 0 {
			err := fmt.Errorf("%w: %s", ErrSubjectMissing, a.Name)
			if slices.ContainsFunc(subs, func(s predicates.Subject) bool { return s.SHA256 == a.SHA256 }) {
				err = fmt.Errorf("%w: %s: a subject has its digest under another file name", ErrSubjectMissing, a.Name)
			}
			return vr.rep.fail(CheckSubjects, err,
				"a subject named "+path.Base(filepathToSlash(a.Name))+" with sha256:"+hex.EncodeToString(a.SHA256[:]), subjectList(subs))
		}
		for _, alg := range strings.Split(tpmDigests[subs[i].Name], " ") {
			algName, want, _ := strings.Cut(alg, ":")
			got, err := a.digest(algName)
			if err != nil {
				return vr.rep.fail(CheckSubjects, fmt.Errorf("%w: %s: %w", ErrSubjectMissing, a.Name, err), alg, "not computable")
			}
			if got != want {
				return vr.rep.fail(CheckSubjects, fmt.Errorf("%w: %s: %s digest", ErrSubjectMissing, a.Name, algName), alg, algName+":"+got)
			}
		}
	}
	vr.subjects = subs
	for _, s := range subs {
		vr.rep.report.Facts.Subjects = append(vr.rep.report.Facts.Subjects, VerifiedSubject{Name: s.Name, SHA256: hex.EncodeToString(s.SHA256[:])})
	}
	names := make([]string, len(vr.artifacts))
	for i, a := range vr.artifacts {
		names[i] = a.Name
	}
	vr.rep.pass(CheckSubjects, fmt.Sprintf("%s among %d subject(s)", strings.Join(names, ", "), len(subs)))
	return nil
}

// filepathToSlash is filepath.ToSlash for names given on this system.
func filepathToSlash(s string) string { return strings.ReplaceAll(s, string(os.PathSeparator), "/") }

// allDigests returns each subject's digests as "alg:hex" sorted and joined
// by spaces, by subject name (names are unique: subjectsOf checked).
func allDigests(s *stmt) map[string]string {
	out := make(map[string]string, len(s.Subjects))
	for _, rd := range s.Subjects {
		var ds []string
		for alg, hx := range rd.GetDigest() {
			ds = append(ds, alg+":"+strings.ToLower(hx))
		}
		sort.Strings(ds)
		out[rd.GetName()] = strings.Join(ds, " ")
	}
	return out
}

// digest returns the artifact's digest by alg in lowercase hex: its
// SHA-256, or another algorithm computed from its file (Path).
func (a Artifact) digest(alg string) (string, error) {
	if alg == "sha256" {
		return hex.EncodeToString(a.SHA256[:]), nil
	}
	var h hash.Hash
	switch alg {
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return "", fmt.Errorf("digest algorithm %q cannot be checked", alg)
	}
	if a.Path == "" {
		return "", fmt.Errorf("a %s digest needs the artifact's file (Artifact.Path)", alg)
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(io.MultiWriter(h, s), f); err != nil {
		return "", err
	}
	if !bytes.Equal(s.Sum(nil), a.SHA256[:]) {
		return "", fmt.Errorf("the file %s changed since it was hashed", a.Path)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkAgree is the statements-agree check, after the TPM/IMA predicate
// decoded: the two statements describe one build. tpm.mode equals the
// mode the SLSA builder.id names and internalParameters.tpm.mode; the SLSA
// buildType is attest-build's; externalParameters (argv, working
// directory) and the build times equal the predicate's; build.exitStatus
// is 0; the SLSA byproducts are exactly the digests of the TPM/IMA
// statement, the AK, the log and both quotes present (ExpectedByproducts),
// so that statements of two builds cannot be combined. What stays the
// signer's word is listed in the report (SignersWord).
func (vr *verification) checkAgree() error {
	p, prov := vr.pred, vr.prov
	fail := func(field, expected, found string) error {
		return vr.rep.fail(CheckAgree, fmt.Errorf("%w: %s", ErrStatementsDisagree, field), expected, orNone(found))
	}
	if p.Build.ExitStatus != 0 {
		return vr.rep.fail(CheckAgree, fmt.Errorf("%w: build.exitStatus", ErrFailedBuild), "exit status 0", fmt.Sprint(p.Build.ExitStatus))
	}
	id := prov.GetRunDetails().GetBuilder().GetId()
	if mode, err := predicates.BuilderIDMode(id); err != nil || mode != p.TPM.Mode {
		found := mode
		if err != nil {
			found = err.Error()
		}
		return fail("SLSA builder.id", "a builder id naming tpm.mode "+p.TPM.Mode, found)
	}
	bd := prov.GetBuildDefinition()
	if bd.GetBuildType() != predicates.BuildType {
		return fail("SLSA buildType", predicates.BuildType, bd.GetBuildType())
	}
	internal := bd.GetInternalParameters().AsMap()
	tpmParams, _ := internal["tpm"].(map[string]any)
	if m, _ := tpmParams["mode"].(string); m != p.TPM.Mode {
		return fail("SLSA internalParameters.tpm.mode", p.TPM.Mode, m)
	}
	ext := bd.GetExternalParameters().AsMap()
	var argv []string
	if list, ok := ext["argv"].([]any); ok {
		for _, a := range list {
			s, _ := a.(string)
			argv = append(argv, s)
		}
	}
	if !slices.Equal(argv, p.Build.Argv) {
		return fail("SLSA externalParameters.argv", fmt.Sprintf("%q (build.argv)", p.Build.Argv), fmt.Sprintf("%q", argv))
	}
	if wd, _ := ext["workingDirectory"].(string); wd != p.Build.WorkingDirectory {
		return fail("SLSA externalParameters.workingDirectory", p.Build.WorkingDirectory, wd)
	}
	md := prov.GetRunDetails().GetMetadata()
	if !md.GetStartedOn().AsTime().Equal(p.Build.StartedOn) || !md.GetFinishedOn().AsTime().Equal(p.Build.FinishedOn) {
		return fail("SLSA metadata times", fmt.Sprintf("%s to %s (build)", p.Build.StartedOn, p.Build.FinishedOn), fmt.Sprintf("%s to %s", md.GetStartedOn().AsTime(), md.GetFinishedOn().AsTime()))
	}
	if err := compareByproducts(prov.GetRunDetails().GetByproducts(), vr.tpmStmt.payloadSHA256(), p); err != nil {
		return fail("SLSA byproducts", "the digests of the TPM/IMA statement, AK, log and quotes present", err.Error())
	}
	vr.rep.report.Facts.SignersWord = SignersWord()
	vr.rep.pass(CheckAgree, "the SLSA statement names this TPM/IMA statement, its quotes, log and AK, mode "+p.TPM.Mode+" (the signer's word)")
	return nil
}

// compareByproducts returns nil when the byproducts are exactly the
// expected ones (each name once, digests equal), else what differs.
func compareByproducts(got []*intoto.ResourceDescriptor, tpmStatement [sha256.Size]byte, p *predicates.TPMIMA) error {
	want := map[string]string{}
	for _, rd := range predicates.ByproductsOfDigest(tpmStatement, p) {
		want[rd.GetName()] = "sha256:" + rd.GetDigest()["sha256"]
	}
	seen := map[string]bool{}
	for i, rd := range got {
		name := rd.GetName()
		w, known := want[name]
		switch {
		case !known:
			return fmt.Errorf("byproduct[%d] %q is not one of attest-build's", i, name)
		case seen[name]:
			return fmt.Errorf("byproduct %q twice", name)
		}
		seen[name] = true
		var ds []string
		for alg, hx := range rd.GetDigest() {
			ds = append(ds, alg+":"+hx)
		}
		if len(ds) != 1 || ds[0] != w {
			return fmt.Errorf("byproduct %q has digest %s, the one present %s", name, strings.Join(ds, " "), w)
		}
	}
	for name := range want {
		if !seen[name] {
			return fmt.Errorf("no byproduct %q", name)
		}
	}
	return nil
}
