package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/verify"
)

// attestation is the TPM/IMA statement of a .intoto.jsonl file, decoded by
// the test itself without verification, to hand its quotes and IMA log to the
// independent checkers (which, with attest-build verify, do the verifying).
type attestation struct {
	path     string
	subjects []verify.VerifiedSubject
	tpmima   predicates.TPMIMA
}

func readAttestation(t *testing.T, path string) *attestation {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &attestation{path: path}
	found := false
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var env struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatalf("%s line %d: not a DSSE envelope: %v", path, i+1, err)
		}
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatalf("%s line %d: payload: %v", path, i+1, err)
		}
		var st struct {
			Subject []struct {
				Name   string            `json:"name"`
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if err := json.Unmarshal(payload, &st); err != nil {
			t.Fatalf("%s line %d: statement: %v", path, i+1, err)
		}
		if st.PredicateType != predicates.TPMIMAType {
			continue
		}
		if found {
			t.Fatalf("%s: two statements of predicateType %s", path, predicates.TPMIMAType)
		}
		found = true
		if err := json.Unmarshal(st.Predicate, &a.tpmima); err != nil {
			t.Fatalf("%s line %d: TPM/IMA predicate: %v", path, i+1, err)
		}
		for _, s := range st.Subject {
			a.subjects = append(a.subjects, verify.VerifiedSubject{Name: s.Name, SHA256: s.Digest["sha256"]})
		}
	}
	if !found {
		t.Fatalf("%s holds no statement of predicateType %s", path, predicates.TPMIMAType)
	}
	return a
}

// endPCR10 returns the sha256 PCR 10 value the end quote carries.
func (a *attestation) endPCR10(t *testing.T) []byte {
	t.Helper()
	for _, p := range a.tpmima.Quotes.End.PCRs {
		if p.Bank == "sha256" && p.Index == 10 {
			v, err := hex.DecodeString(p.Value)
			if err != nil {
				t.Fatalf("%s: end quote PCR 10: %v", a.path, err)
			}
			return v
		}
	}
	t.Fatalf("%s: end quote carries no sha256 PCR 10: %+v", a.path, a.tpmima.Quotes.End.PCRs)
	return nil
}

// quoteFiles are the files tpm2_checkquote reads for one quote.
type quoteFiles struct{ ak, msg, sig, pcrs string }

// writeQuote writes quote q of the attestation (TPMS_ATTEST, signature, PCR
// values in tpm2-tools' serialized format) and the AK (PEM) into dir.
func (a *attestation) writeQuote(t *testing.T, dir, name string, q predicates.Quote) quoteFiles {
	t.Helper()
	var idx []int
	var vals [][]byte
	for _, p := range q.PCRs {
		if p.Bank != "sha256" {
			t.Fatalf("%s: %s quote covers bank %s; the test hands tpm2_checkquote sha256 only", a.path, name, p.Bank)
		}
		v, err := hex.DecodeString(p.Value)
		if err != nil {
			t.Fatalf("%s: %s quote PCR %d: %v", a.path, name, p.Index, err)
		}
		idx, vals = append(idx, p.Index), append(vals, v)
	}
	pcrs, err := serializedPCRs(idx, vals)
	if err != nil {
		t.Fatalf("%s: %s quote: %v", a.path, name, err)
	}
	f := quoteFiles{ak: filepath.Join(dir, "ak.pem"), msg: filepath.Join(dir, name+".msg"),
		sig: filepath.Join(dir, name+".sig"), pcrs: filepath.Join(dir, name+".pcrs")}
	for path, data := range map[string][]byte{f.ak: []byte(a.tpmima.AttestationKey.PublicKeyPEM),
		f.msg: q.Attest, f.sig: q.Signature, f.pcrs: pcrs} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// imaLog returns the IMA log the attestation carries, decompressed by the
// reference zstd(1) (not the Go library attest-build compresses it with),
// after checking its SHA-256 against the one the predicate declares.
func (a *attestation) imaLog(t *testing.T) []byte {
	t.Helper()
	l := a.tpmima.IMA.Log
	if !a.tpmima.IMA.Present || l == nil {
		t.Fatalf("%s carries no IMA log (present %v, reason %q)", a.path, a.tpmima.IMA.Present, a.tpmima.IMA.Reason)
	}
	if l.Encoding != predicates.IMALogEncoding {
		t.Fatalf("%s: ima.log.encoding %q, want %q", a.path, l.Encoding, predicates.IMALogEncoding)
	}
	cmd := exec.Command("zstd", "-d", "-c", "-q")
	cmd.Stdin = bytes.NewReader(l.Data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: zstd -d of the IMA log: %v\n%s", a.path, err, stderr.String())
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != l.SHA256 {
		t.Fatalf("%s: IMA log sha256 %x, the predicate says %s", a.path, sum, l.SHA256)
	}
	return raw
}

// verify runs attest-build verify --format json on artifact with attestation
// file att under policy (and the extra flags) and returns its exit status
// and its one result.
func (h *harness) verify(t *testing.T, policy, att, artifact string, flags ...string) (int, verify.AttestationResult) {
	t.Helper()
	cmd := exec.Command(h.bin, append(append([]string{"verify", "--format", "json", "--policy", policy, "--attestation", att}, flags...), "--", artifact)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("attest-build verify: %v", err)
	}
	var out verify.VerifyOutput
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("attest-build verify (exit %d): stdout is not its JSON report: %v\nstderr: %s", code, err, stderr.String())
	}
	if len(out.Results) != 1 || out.Results[0].Verdict != out.Verdict {
		t.Fatalf("attest-build verify: want one result with the overall verdict %q, got %+v", out.Verdict, out.Results)
	}
	return code, out.Results[0]
}

// wantChecks asserts that the checks of r ran in provenance.AllChecks() order
// and passed up to failAt, which failed, the rest skipped ("" : all passed).
func wantChecks(t *testing.T, r verify.AttestationResult, failAt verify.Check) {
	t.Helper()
	if len(r.Checks) != len(verify.AllChecks()) {
		t.Fatalf("verify reported %d checks, want %d: %+v", len(r.Checks), len(verify.AllChecks()), r.Checks)
	}
	want := verify.StatusPass
	for i, c := range r.Checks {
		if c.Check != verify.AllChecks()[i] {
			t.Fatalf("verify check %d is %q, want %q", i, c.Check, verify.AllChecks()[i])
		}
		if c.Check == failAt {
			want = verify.StatusFail
		}
		if c.Status != want {
			t.Errorf("verify check %s: %s (%s; expected %q, found %q), want %s", c.Check, c.Status, c.Detail, c.Expected, c.Found, want)
		}
		if c.Check == failAt {
			want = verify.StatusSkipped
		}
	}
}

// writePolicy loads the YAML policy src, sets ima.KEY to each value of ima
// (keeping the comments), writes it to dst and checks it with `policy check`.
func (h *harness) writePolicy(t *testing.T, src, dst string, ima map[string]any) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	section := mappingValue(doc.Content[0], "ima")
	if section == nil || section.Kind != yaml.MappingNode {
		t.Fatalf("%s has no ima mapping", src)
	}
	for key, value := range ima {
		v := mappingValue(section, key)
		if v == nil {
			section.Content = append(section.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{})
			v = section.Content[len(section.Content)-1]
		}
		if err := v.Encode(value); err != nil {
			t.Fatal(err)
		}
	}
	h.writePolicyYAML(t, &doc, dst)
}

// writePolicyYAML writes the policy doc to dst and checks it with `policy check`.
func (h *harness) writePolicyYAML(t *testing.T, doc *yaml.Node, dst string) {
	t.Helper()
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	h.attestBuild(t, "policy", "check", dst)
}

// mappingValue returns the value node of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
