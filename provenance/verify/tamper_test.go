package verify_test

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/klauspost/compress/zstd"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/tpm"
)

// tamperCase changes one thing in a good attestation. It returns the
// changed file, and the artifact to present (or "" for the good one).
type tamperCase struct {
	name  string
	check verify.Check
	is    error  // a sentinel the error must match, or nil
	rule  string // for ima-rules: the rule of the first finding, or ""
	edit  func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string)
}

// predicateEdit re-signs the TPM/IMA statement after edit changes its
// predicate, and the SLSA statement with byproducts naming the changed
// evidence, as a lying signer would: the signer is trusted, so only the
// TPM evidence can catch it.
func predicateEdit(edit func(t *testing.T, a *attested, pred map[string]any)) func(*testing.T, *attested, []provtest.EnvelopeJSON) ([]byte, string) {
	return func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := tpmIndex(t, envs)
		st := statementOf(t, envs[i])
		edit(t, a, st["predicate"].(map[string]any))
		envs[i] = resign(t, a.signer, st)
		syncByproducts(t, a.signer, envs)
		return joinLines(t, envs), ""
	}
}

// syncByproducts rewrites the SLSA statement's byproducts to name the
// TPM/IMA statement present (its payload, AK, log and quotes) and re-signs
// it.
func syncByproducts(t testing.TB, signer *provenance.Signer, envs []provtest.EnvelopeJSON) {
	t.Helper()
	i := tpmIndex(t, envs)
	payload, err := base64.StdEncoding.DecodeString(envs[i].Payload)
	if err != nil {
		t.Fatal(err)
	}
	// The byproducts name the log by its declared SHA-256: its data, which
	// an edit may have made undecodable, is not needed.
	m := statementOf(t, envs[i])
	if lg, ok := imaOf(m["predicate"].(map[string]any))["log"].(map[string]any); ok {
		lg["data"] = ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate predicates.TPMIMA `json:"predicate"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Logf("syncByproducts: the edited predicate does not decode (%v): byproducts left as they are", err)
		return
	}
	var bps []any
	for _, rd := range predicates.Byproducts(payload, &st.Predicate) {
		m := map[string]any{"name": rd.GetName(), "digest": map[string]any{"sha256": rd.GetDigest()["sha256"]}}
		if rd.GetMediaType() != "" {
			m["mediaType"] = rd.GetMediaType()
		}
		bps = append(bps, m)
	}
	j := 1 - i
	slsaSt := statementOf(t, envs[j])
	slsaSt["predicate"].(map[string]any)["runDetails"].(map[string]any)["byproducts"] = bps
	envs[j] = resign(t, signer, slsaSt)
}

func quote(pred map[string]any, which string) map[string]any {
	return pred["quotes"].(map[string]any)[which].(map[string]any)
}

func imaOf(pred map[string]any) map[string]any { return pred["ima"].(map[string]any) }

var tamperCases = []tamperCase{
	{"DSSE signature", verify.CheckSignature, verify.ErrBadSignature, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		envs[0].Signatures[0].Sig = flipB64(t, envs[0].Signatures[0].Sig, -3)
		return joinLines(t, envs), ""
	}},
	{"payload byte", verify.CheckSignature, verify.ErrBadSignature, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := tpmIndex(t, envs)
		envs[i].Payload = flipB64(t, envs[i].Payload, 40)
		return joinLines(t, envs), ""
	}},
	{"subject digest (re-signed, artifact B presented)", verify.CheckNonce, tpm.ErrNonce, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		b := filepath.Join(t.TempDir(), "out.bin")
		if err := os.WriteFile(b, []byte("artifact B"), 0o644); err != nil {
			t.Fatal(err)
		}
		for i := range envs { // both statements, so that their subjects agree
			st := statementOf(t, envs[i])
			st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": sha256hex([]byte("artifact B"))}
			envs[i] = resign(t, a.signer, st)
		}
		syncByproducts(t, a.signer, envs)
		return joinLines(t, envs), b
	}},
	{"predicateType (re-signed)", verify.CheckStatement, verify.ErrWrongType, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := tpmIndex(t, envs)
		st := statementOf(t, envs[i])
		st["predicateType"] = "https://github.com/attest-build/attest-build/predicates/tpm-ima/v9"
		envs[i] = resign(t, a.signer, st)
		return joinLines(t, envs), ""
	}},
	{"attestation key (re-signed)", verify.CheckAttestationKey, verify.ErrUntrustedAK, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		other, k := provtest.TestKeyPEM(t)
		fp, err := tpm.Fingerprint(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		pred["attestationKey"].(map[string]any)["publicKeyPem"] = other
		pred["attestationKey"].(map[string]any)["fingerprint"] = fp
	})},
	{"end quote attest bytes (re-signed)", verify.CheckQuoteSignature, tpm.ErrSignature, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		q := quote(pred, "end")
		q["attest"] = flipB64(t, q["attest"].(string), -5)
	})},
	{"start quote signature (re-signed)", verify.CheckQuoteSignature, tpm.ErrSignature, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		q := quote(pred, "start")
		q["signature"] = flipB64(t, q["signature"].(string), -2)
	})},
	{"start nonce (re-signed)", verify.CheckNonce, tpm.ErrNonce, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		n := pred["nonce"].(map[string]any)
		s := n["start"].(string)
		n["start"] = flipHexChar(s)
	})},
	{"nonce construction of one subject (re-signed)", verify.CheckNonce, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		pred["nonce"].(map[string]any)["construction"] = predicates.NonceSubjectList
	})},
	{"PCR value (re-signed)", verify.CheckPCRDigest, tpm.ErrPCRDigest, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		pcrs := quote(pred, "end")["pcrs"].([]any)
		p := pcrs[0].(map[string]any)
		p["value"] = flipHexChar(p["value"].(string))
	})},
	{"resetCount byte in the start quote (re-signed)", verify.CheckQuoteSignature, tpm.ErrSignature, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		q := quote(pred, "start")
		q["attest"] = flipResetCount(t, q["attest"].(string))
	})},
	{"IMA log byte (re-signed)", verify.CheckIMAReplay, nil, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		flipLogPayload(t, imaOf(pred)["log"].(map[string]any))
	})},
	{"IMA log encoding naming gzip for zstd data (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		imaOf(pred)["log"].(map[string]any)["encoding"] = predicates.IMALogEncodingGzip
	})},
	{"IMA log encoding unknown (re-signed)", verify.CheckPredicate, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		imaOf(pred)["log"].(map[string]any)["encoding"] = "binary_runtime_measurements+xz"
	})},
	{"IMA log compressed twice (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		setLog(t, lg, compress(t, predicates.IMALogEncoding, logBytes(t, lg)))
	})},
	{"IMA log in a zstd frame asking for a 16 MiB window (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		raw := logBytes(t, lg)
		frame := compress(t, predicates.IMALogEncoding, raw, zstd.WithSingleSegment(false))
		// RFC 8878 3.1.1.1: after the magic, the frame header descriptor
		// (Single_Segment_flag clear), then the window descriptor:
		// exponent 14, mantissa 0 is 1<<(10+14) bytes.
		if frame[4]&0x20 != 0 {
			t.Fatalf("frame header descriptor %#x: single segment", frame[4])
		}
		frame[5] = 14 << 3
		lg["data"] = base64.StdEncoding.EncodeToString(frame)
	})},
	{"ima.log.data: text after the log's base64 (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		lg["data"] = lg["data"].(string) + "!! not base64 ~~"
	})},
	{"ima.log.data: padded base64 followed by more (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		// A stream of the same log whose base64 ends in padding (the case
		// the zstd decoder's small reads used to lose): the log's frame, then
		// empty frames until the length is not a multiple of 3.
		stream := compress(t, predicates.IMALogEncoding, logBytes(t, lg))
		for _, empty := range [][]byte{nil, compress(t, predicates.IMALogEncoding, nil), compress(t, predicates.IMALogEncoding, nil, zstd.WithEncoderCRC(false))} {
			if len(stream)%3 != 0 {
				break
			}
			stream = append(stream, empty...)
		}
		if len(stream)%3 == 0 {
			t.Fatal("no padded encoding of the log found")
		}
		lg["data"] = base64.StdEncoding.EncodeToString(stream) + "AAAA"
	})},
	{"ima.log.data: not a multiple of 4 characters (re-signed)", verify.CheckPredicate, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		lg["data"] = lg["data"].(string) + "AA"
	})},
	{"window start (re-signed)", verify.CheckIMAReplay, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		w := imaOf(pred)["window"].(map[string]any)
		w["start"] = jsonInt(w["start"]) - 1
	})},
	{"window end (re-signed)", verify.CheckIMALog, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		w := imaOf(pred)["window"].(map[string]any)
		w["end"] = jsonInt(w["end"]) - 1
	})},
	{"ima.bank sha1 (re-signed)", verify.CheckIMALog, verify.ErrIMABank, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		imaOf(pred)["bank"] = "sha1"
	})},
	{"window entry path shown to readers (re-signed)", verify.CheckIMAReplay, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		entries := imaOf(pred)["window"].(map[string]any)["entries"].([]any)
		entries[len(entries)-1].(map[string]any)["path"] = "/usr/bin/true"
	})},
	{"template name of a window entry (re-signed)", verify.CheckIMARules, verify.ErrIMARule, "template", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			return relabel(t, raw, jsonInt(imaOf(pred)["window"].(map[string]any)["end"])-1, "ima-xx")
		})
		showLog(t, pred)
	})},
	{"SLSA envelope signature", verify.CheckSignature, verify.ErrBadSignature, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := 1 - tpmIndex(t, envs)
		envs[i].Signatures[0].Sig = flipB64(t, envs[i].Signatures[0].Sig, -3)
		return joinLines(t, envs), ""
	}},
	{"SLSA subject digest (re-signed)", verify.CheckSubjects, verify.ErrSubjectsMismatch, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := 1 - tpmIndex(t, envs)
		st := statementOf(t, envs[i])
		st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": sha256hex([]byte("artifact B"))}
		envs[i] = resign(t, a.signer, st)
		return joinLines(t, envs), ""
	}},
	{"attestationKey.tpmtPublic of another key (re-signed)", verify.CheckAttestationKey, verify.ErrUntrustedAK, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		_, other := provtest.TestKeyPEM(t)
		pred["attestationKey"].(map[string]any)["tpmtPublic"] = base64.StdEncoding.EncodeToString(akTPMTPublic(t, &other.PublicKey))
	})},
	{"end quote as the start quote: equal clocks (re-signed)", verify.CheckSameBoot, verify.ErrReboot, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		end := quote(pred, "end")
		pred["quotes"].(map[string]any)["start"] = end
		pred["nonce"].(map[string]any)["start"] = hex.EncodeToString(attestOf(t, end).ExtraData.Buffer)
	})},
	{"ima.log.sha256 (re-signed)", verify.CheckIMAReplay, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		lg["sha256"] = flipHexChar(lg["sha256"].(string))
	})},
	{"ima.log.entries + 1 (re-signed)", verify.CheckIMALog, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		lg["entries"] = jsonInt(lg["entries"]) + 1
	})},
	// The window ends at the last entry: one fewer declared leaves it
	// outside the log, refused before the replay.
	{"ima.log.entries - 1 (re-signed)", verify.CheckPredicate, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		lg["entries"] = jsonInt(lg["entries"]) - 1
	})},
	{"artifact B presented", verify.CheckSubjects, verify.ErrSubjectMissing, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		b := filepath.Join(t.TempDir(), "b.bin")
		if err := os.WriteFile(b, []byte("artifact B"), 0o644); err != nil {
			t.Fatal(err)
		}
		return joinLines(t, envs), b
	}},
	// Each envelope's signature is checked as it is read: a forged envelope
	// is refused before the next line is read (here a line that is not
	// JSON, which the envelope check would refuse were it read first).
	{"forged first envelope, then a line that is not an envelope", verify.CheckSignature, verify.ErrUntrustedSigner, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		envs[0] = resign(t, newSigner(t), statementOf(t, envs[0]))
		return append(joinLines(t, envs[:1]), []byte("not an envelope\n")...), ""
	}},
	{"second envelope signed by an untrusted key", verify.CheckSignature, verify.ErrUntrustedSigner, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		envs[1] = resign(t, newSigner(t), statementOf(t, envs[1]))
		return joinLines(t, envs), ""
	}},
	{"signed by an untrusted key", verify.CheckSignature, verify.ErrUntrustedSigner, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		other := newSigner(t)
		for i := range envs {
			envs[i] = resign(t, other, statementOf(t, envs[i]))
		}
		return joinLines(t, envs), ""
	}},
}

// allTamperCases are the rows of the tamper matrix: the ones above and
// those of issue 12 (hardening_tamper_test.go).
func allTamperCases() []tamperCase {
	return append(append([]tamperCase{}, tamperCases...), hardeningCases...)
}

// runTamperMatrix checks that the good attestation passes, then that each
// change fails with its named check.
func runTamperMatrix(t *testing.T, a *attested, p *policy.Policy) {
	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verifyBytes(t, p, good, a.artifact)
	if err != nil {
		t.Fatalf("the good attestation fails: %v", err)
	}
	for _, c := range rep.Checks {
		if c.Status != verify.StatusPass {
			t.Errorf("good attestation: check %s is %s", c.Check, c.Status)
		}
	}
	t.Run("IMA log in the gzip encoding of earlier attestations (re-signed) passes", func(t *testing.T) {
		changed, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
			reencodeLog(t, imaOf(pred), predicates.IMALogEncodingGzip)
		})(t, a, provtest.Lines(t, good))
		if _, err := verifyBytes(t, p, changed, a.artifact); err != nil {
			t.Fatalf("a gzip-encoded log fails: %v", err)
		}
	})
	for _, tc := range allTamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			changed, artifact := tc.edit(t, a, provtest.Lines(t, good))
			if artifact == "" {
				artifact = a.artifact
			}
			_, err := verifyBytes(t, p, changed, artifact)
			ce := wantCheck(t, err, tc.check)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
			if tc.rule != "" {
				wantFinding(t, ce.Report, tc.rule)
			}
			if ce.Expected == "" || ce.Found == "" {
				t.Errorf("failed check without expected/found: %+v", ce)
			}
			// Every check after the failed one is skipped, none passed.
			after := false
			for _, c := range ce.Report.Checks {
				if c.Check == tc.check {
					after = true
					continue
				}
				if after && c.Status != verify.StatusSkipped {
					t.Errorf("check %s after the failure is %s", c.Check, c.Status)
				}
			}
		})
	}
}

// wantFinding asserts that the report's first IMA finding is of rule and
// returns it.
func wantFinding(t testing.TB, rep *verify.Report, rule string) policy.IMAFinding {
	t.Helper()
	if rep.Facts.IMA == nil || len(rep.Facts.IMA.Findings) == 0 {
		t.Fatalf("no IMA findings in the report, want one of rule %s", rule)
	}
	f := rep.Facts.IMA.Findings[0]
	if f.Rule != rule {
		t.Fatalf("first finding %s is of rule %s, want %s", f, f.Rule, rule)
	}
	return f
}

// editLog replaces the predicate's IMA log by edit of its uncompressed
// bytes, with ima.log.sha256 to match (a lying signer's edit).
func editLog(t testing.TB, pred map[string]any, edit func(raw []byte) []byte) {
	t.Helper()
	lg := imaOf(pred)["log"].(map[string]any)
	raw := edit(logBytes(t, lg))
	setLog(t, lg, raw)
	lg["sha256"] = sha256hex(raw)
}

// reencodeLog recompresses a predicate's ima.log in another encoding.
func reencodeLog(t testing.TB, ima map[string]any, encoding string) {
	t.Helper()
	lg := ima["log"].(map[string]any)
	raw := logBytes(t, lg)
	lg["encoding"] = encoding
	setLog(t, lg, raw)
}

// logBytes returns the uncompressed bytes of a predicate's ima.log, by its
// encoding.
func logBytes(t testing.TB, lg map[string]any) []byte {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(lg["data"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return provtest.Decompress(t, lg["encoding"].(string), data)
}

// setLog sets a predicate's ima.log.data to raw, compressed by its
// encoding (sha256 unchanged).
func setLog(t testing.TB, lg map[string]any, raw []byte) {
	t.Helper()
	lg["data"] = base64.StdEncoding.EncodeToString(compress(t, lg["encoding"].(string), raw))
}

// compress compresses raw by the given predicates encoding.
func compress(t testing.TB, encoding string, raw []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	switch encoding {
	case predicates.IMALogEncoding, predicates.BootLogEncoding:
		zw, err := zstd.NewWriter(nil, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer zw.Close()
		return zw.EncodeAll(raw, nil)
	case predicates.IMALogEncodingGzip:
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	t.Fatalf("unknown log encoding %q", encoding)
	return nil
}

// showLog rewrites the predicate's window entries and ima.template from its
// log, as a lying signer would after editing the log.
func showLog(t testing.TB, pred map[string]any) {
	t.Helper()
	m := imaOf(pred)
	lg := m["log"].(map[string]any)
	gz, err := base64.StdEncoding.DecodeString(lg["data"].(string))
	if err != nil {
		t.Fatal(err)
	}
	w := m["window"].(map[string]any)
	start, end := jsonInt(w["start"]), jsonInt(w["end"])
	r, err := evidence.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var entries []any
	template := ""
	for i := 0; i < end; i++ {
		e, err := r.Next()
		if errors.Is(err, evidence.ErrMalformed) {
			return // an entry no reader decodes: the signer cannot show it either
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case template == "":
			template = e.TemplateName
		case template != e.TemplateName:
			template = "mixed"
		}
		if i < start {
			continue
		}
		we := map[string]any{"index": e.Index, "template": e.TemplateName}
		if e.FileDigestAlg != "" {
			we["digestAlg"] = e.FileDigestAlg
		}
		if len(e.FileDigest) > 0 {
			we["digest"] = hex.EncodeToString(e.FileDigest)
		}
		if e.Path != "" {
			we["path"] = e.Path
		}
		if e.Violation() {
			we["violation"] = true
		}
		entries = append(entries, we)
	}
	w["entries"] = entries
	m["template"] = template
}

// relabel rewrites the template name of entry idx of a binary log (sha1
// template hashes, little-endian). The kernel does not hash the template
// name, so the replay still reaches the quoted PCR 10.
func relabel(t testing.TB, raw []byte, idx int, name string) []byte {
	t.Helper()
	l := splitLog(t, raw)
	if idx >= len(l.records) {
		t.Fatalf("relabel: entry %d of %d", idx, len(l.records))
	}
	var out bytes.Buffer
	for i, rec := range l.records {
		if i != idx {
			out.Write(rec)
			continue
		}
		e := l.entries[i]
		out.Write(rec[:4+len(e.TemplateHash)])
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(name))))
		out.WriteString(name)
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(e.TemplateData))))
		out.Write(e.TemplateData)
	}
	return out.Bytes()
}

// akTPMTPublic returns the TPMT_PUBLIC of an attestation key (the AK
// template: restricted, signing, fixedTPM) holding pub.
func akTPMTPublic(t testing.TB, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	tmpl, err := tpm.AKTemplate(tpm.AKECCP256)
	if err != nil {
		t.Fatal(err)
	}
	ecdh, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	pt := ecdh.Bytes() // 0x04 || X || Y
	n := (len(pt) - 1) / 2
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: pt[1 : 1+n]}, Y: tpm2.TPM2BECCParameter{Buffer: pt[1+n:]}})
	b := tpm2.Marshal(tmpl)
	if got, err := tpm.ParseAKPublic(b); err != nil || !pub.Equal(got) {
		t.Fatalf("akTPMTPublic: ParseAKPublic = %v, %v", got, err)
	}
	return b
}

// attestOf decodes a predicate quote's TPMS_ATTEST.
func attestOf(t testing.TB, q map[string]any) *tpm2.TPMSAttest {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(q["attest"].(string))
	if err != nil {
		t.Fatal(err)
	}
	a, err := tpm2.Unmarshal[tpm2.TPMSAttest](b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func flipHexChar(s string) string {
	c := "0"
	if s[0] == '0' {
		c = "1"
	}
	return c + s[1:]
}

func jsonInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	case interface{ Int64() (int64, error) }:
		i, _ := n.Int64()
		return int(i)
	}
	panic("not a number")
}

// policyCase verifies the good attestation against a policy made by policy
// init and changed by edit, at a clock; check "" means it must pass.
type policyCase struct {
	name  string
	scope policy.IMAScope
	edit  func(m map[string]any, p *predicates.TPMIMA)
	now   func(p *predicates.TPMIMA) time.Time // nil: the real clock
	check verify.Check
	is    error
	// rule and index: for ima-rules, the first finding's rule and entry.
	rule  string
	index func(p *predicates.TPMIMA) int
	// found, when set, is the failed check's exact found value.
	found func(p *predicates.TPMIMA) string
}

// quotedValue returns the hex value of bank:index in a predicate's quote.
func quotedValue(q predicates.Quote, bank string, index int) string {
	for _, v := range q.PCRs {
		if v.Bank == bank && v.Index == index {
			return v.Value
		}
	}
	return ""
}

func golden(bank string, index int, value string) func(m map[string]any, p *predicates.TPMIMA) {
	return func(m map[string]any, p *predicates.TPMIMA) {
		m["pcrs"] = map[string]any{bank: map[int]any{index: value}}
	}
}

func maxAge(d string) func(m map[string]any, p *predicates.TPMIMA) {
	return func(m map[string]any, p *predicates.TPMIMA) { m["maxAge"] = d }
}

func finishedPlus(d time.Duration) func(p *predicates.TPMIMA) time.Time {
	return func(p *predicates.TPMIMA) time.Time { return p.Build.FinishedOn.Add(d) }
}

func imaPolicyOf(m map[string]any) map[string]any { return m["ima"].(map[string]any) }

// withoutAllowed removes path from the policy's allowlist.
func withoutAllowed(m map[string]any, path string) {
	ima := imaPolicyOf(m)
	var kept []any
	for _, it := range ima["allow"].([]any) {
		if it.(map[string]any)["path"] != path {
			kept = append(kept, it)
		}
	}
	ima["allow"] = kept
}

func windowStart(p *predicates.TPMIMA) int { return p.IMA.Window.Start }
func firstEntry(*predicates.TPMIMA) int    { return 0 }

var policyCases = []policyCase{
	// golden-pcrs: both quotes must hold the golden value (PCR 0 of the
	// simulator and swtpm is all zeros: no firmware measures into it).
	{name: "golden sha256:0 as quoted", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		golden("sha256", 0, quotedValue(p.Quotes.End, "sha256", 0))(m, p)
	}},
	{name: "golden sha256:0 wrong", scope: policy.ScopeWindow, edit: golden("sha256", 0, strings.Repeat("01", 32)),
		check: verify.CheckGoldenPCRs, is: verify.ErrGoldenPCR},
	{name: "golden sha256:10 that only the start quote holds", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		golden("sha256", 10, quotedValue(p.Quotes.Start, "sha256", 10))(m, p)
	}, check: verify.CheckGoldenPCRs, is: verify.ErrGoldenPCR, found: func(p *predicates.TPMIMA) string { return quotedValue(p.Quotes.End, "sha256", 10) }},
	{name: "golden sha256:10 that only the end quote holds", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		golden("sha256", 10, quotedValue(p.Quotes.End, "sha256", 10))(m, p)
	}, check: verify.CheckGoldenPCRs, is: verify.ErrGoldenPCR, found: func(p *predicates.TPMIMA) string { return quotedValue(p.Quotes.Start, "sha256", 10) }},
	{name: "golden PCR not quoted", scope: policy.ScopeWindow, edit: golden("sha256", 15, strings.Repeat("00", 32)),
		check: verify.CheckGoldenPCRs, is: verify.ErrGoldenPCR, found: func(*predicates.TPMIMA) string { return "not quoted" }},

	// max-age: at most maxAge old, at most maxAgeSkew (5 min) in the future.
	{name: "59 minutes old, maxAge 1h", scope: policy.ScopeWindow, edit: maxAge("1h"), now: finishedPlus(59 * time.Minute)},
	{name: "61 minutes old, maxAge 1h", scope: policy.ScopeWindow, edit: maxAge("1h"), now: finishedPlus(61 * time.Minute),
		check: verify.CheckMaxAge, is: verify.ErrTooOld},
	{name: "finished 4 minutes in the future", scope: policy.ScopeWindow, edit: maxAge("1h"), now: finishedPlus(-4 * time.Minute)},
	{name: "finished 6 minutes in the future", scope: policy.ScopeWindow, edit: maxAge("1h"), now: finishedPlus(-6 * time.Minute),
		check: verify.CheckMaxAge, is: verify.ErrTooOld},

	// ima-rules: the first entry of the scope is in it.
	{name: "deny the first window entry", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		imaPolicyOf(m)["deny"] = []any{p.IMA.Window.Entries[0].Path}
	}, check: verify.CheckIMARules, is: verify.ErrIMARule, rule: "deny", index: windowStart},
	{name: "first window entry not allowlisted", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		withoutAllowed(m, p.IMA.Window.Entries[0].Path)
	}, check: verify.CheckIMARules, is: verify.ErrIMARule, rule: "allowlist", index: windowStart},
	{name: "boot scope: deny the first entry of the log", scope: policy.ScopeBoot, edit: func(m map[string]any, p *predicates.TPMIMA) {
		imaPolicyOf(m)["deny"] = []any{"boot_aggregate"}
	}, check: verify.CheckIMARules, is: verify.ErrIMARule, rule: "deny", index: firstEntry},
	{name: "boot scope: first entry of the log not allowlisted", scope: policy.ScopeBoot, edit: func(m map[string]any, p *predicates.TPMIMA) {
		withoutAllowed(m, "boot_aggregate")
	}, check: verify.CheckIMARules, is: verify.ErrIMARule, rule: "allowlist", index: firstEntry},

	// ima.maxEntries bounds the log: equal passes, one fewer refuses.
	{name: "maxEntries = log entries", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		imaPolicyOf(m)["maxEntries"] = p.IMA.Log.Entries
	}},
	{name: "maxEntries = log entries - 1", scope: policy.ScopeWindow, edit: func(m map[string]any, p *predicates.TPMIMA) {
		imaPolicyOf(m)["maxEntries"] = p.IMA.Log.Entries - 1
	}, check: verify.CheckIMALog, is: verify.ErrTooLarge},
}

// predicateOf decodes the TPM/IMA predicate of an attestation file.
func predicateOf(t testing.TB, att []byte) *predicates.TPMIMA {
	t.Helper()
	envs := provtest.Lines(t, att)
	b, err := json.Marshal(statementOf(t, envs[tpmIndex(t, envs)])["predicate"])
	if err != nil {
		t.Fatal(err)
	}
	var p predicates.TPMIMA
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// runPolicyMatrix verifies the good attestation against each policy case;
// base applies to every policy first (the log's violations, for instance).
func runPolicyMatrix(t *testing.T, a *attested, base func(m map[string]any)) {
	good := mustRead(t, a.att)
	pred := predicateOf(t, good)
	for _, tc := range policyCases {
		t.Run(tc.name, func(t *testing.T) {
			p := policyFor(t, a, tc.scope, editPolicy(t, func(m map[string]any) {
				if base != nil {
					base(m)
				}
				tc.edit(m, pred)
			}))
			var opts []verify.VerifierOption
			if tc.now != nil {
				now := tc.now(pred)
				opts = append(opts, verify.WithClock(func() time.Time { return now }))
			}
			rep, err := verifyBytes(t, p, good, a.artifact, opts...)
			if tc.check == "" {
				if err != nil {
					t.Fatalf("want a pass: %v", err)
				}
				if rep.Verdict != verify.StatusPass {
					t.Fatalf("verdict %s", rep.Verdict)
				}
				return
			}
			ce := wantCheck(t, err, tc.check)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
			if tc.rule != "" {
				if f := wantFinding(t, ce.Report, tc.rule); f.Index != tc.index(pred) {
					t.Errorf("first finding %s, want entry %d", f, tc.index(pred))
				}
			}
			if tc.found != nil && ce.Found != tc.found(pred) {
				t.Errorf("found %q, want %q", ce.Found, tc.found(pred))
			}
		})
	}
}

// allowViolations allows the violation at entry 8 of the vm-debian12-swtpm
// log, in boot scope (policy init writes allowViolations: false).
func allowViolations(m map[string]any) { imaPolicyOf(m)["allowViolations"] = true }
