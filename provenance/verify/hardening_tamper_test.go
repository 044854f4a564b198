package verify_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/verify"
)

// The tamper rows of issue 12: an attacker who holds the DSSE signing key
// (every row re-signs) but not the TPM's attestation key. Each row was
// accepted, or cost unbounded resources, before.
var hardeningCases = []tamperCase{
	// 1. Template and field confusion.
	{"template renamed n-ng|d-ng: the digest read as the path (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte { return relabel(t, raw, lastWindowEntry(pred), "n-ng|d-ng") })
		showLog(t, pred)
	})},
	{"template renamed d-ng|n-ng|n-ng (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte { return relabel(t, raw, lastWindowEntry(pred), "d-ng|n-ng|n-ng") })
	})},
	{"path with a NUL before its end (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			return rewriteFields(t, raw, lastWindowEntry(pred), func(f [][]byte) [][]byte {
				f[1] = append(bytes.TrimSuffix(f[1], []byte{0}), []byte("\x00.txt\x00")...)
				return f
			})
		})
	})},
	{"d-ng digest of another size than its algorithm's (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			return rewriteFields(t, raw, lastWindowEntry(pred), func(f [][]byte) [][]byte {
				f[0] = f[0][:len(f[0])-12] // sha256: and 20 bytes
				return f
			})
		})
	})},

	// 2. ima.required and boot_aggregate.
	{"boot_aggregate not the hash of the quoted PCRs 0-9 (re-signed)", verify.CheckIMAReplay, evidence.ErrBootAggregate, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			return rewriteFields(t, raw, 0, func(f [][]byte) [][]byte {
				f[0] = bytes.Clone(f[0])
				f[0][len(f[0])-1] ^= 1
				return f
			})
		})
	})},
	{"first entry not boot_aggregate (re-signed)", verify.CheckIMAReplay, evidence.ErrBootAggregate, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			return rewriteFields(t, raw, 0, func(f [][]byte) [][]byte {
				f[1] = []byte("/init\x00")
				return f
			})
		})
	})},
	{"empty log, ima.required (re-signed)", verify.CheckIMALog, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		m := imaOf(pred)
		editLog(t, pred, func([]byte) []byte { return nil })
		m["log"].(map[string]any)["entries"] = 0
		m["window"] = map[string]any{"start": 0, "end": 0, "entries": []any{}}
		m["template"] = "none"
	})},

	// 3. Signed fields.
	{"SLSA internalParameters.tpm.mode relabelled (re-signed)", verify.CheckAgree, verify.ErrStatementsDisagree, "", slsaEdit(func(t *testing.T, p map[string]any) {
		p["buildDefinition"].(map[string]any)["internalParameters"].(map[string]any)["tpm"].(map[string]any)["mode"] = predicates.ModeDevice
	})},
	{"SLSA byproduct: the log of another build (re-signed)", verify.CheckAgree, verify.ErrStatementsDisagree, "", slsaEdit(func(t *testing.T, p map[string]any) {
		for _, b := range p["runDetails"].(map[string]any)["byproducts"].([]any) {
			if bp := b.(map[string]any); bp["name"] == "ima-log" {
				bp["digest"] = map[string]any{"sha256": strings.Repeat("ab", 32)}
			}
		}
	})},
	{"SLSA byproduct left out (re-signed)", verify.CheckAgree, verify.ErrStatementsDisagree, "", slsaEdit(func(t *testing.T, p map[string]any) {
		rd := p["runDetails"].(map[string]any)
		rd["byproducts"] = rd["byproducts"].([]any)[1:]
	})},
	{"SLSA externalParameters.argv of another build (re-signed)", verify.CheckAgree, verify.ErrStatementsDisagree, "", slsaEdit(func(t *testing.T, p map[string]any) {
		p["buildDefinition"].(map[string]any)["externalParameters"].(map[string]any)["argv"] = []any{"true"}
	})},
	{"build.exitStatus 2 (re-signed)", verify.CheckAgree, verify.ErrFailedBuild, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		pred["build"].(map[string]any)["exitStatus"] = 2
	})},
	{"attestationKey.fingerprint of another key (re-signed)", verify.CheckAttestationKey, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		pred["attestationKey"].(map[string]any)["fingerprint"] = "sha256:" + strings.Repeat("01", 32)
	})},
	{"subject sha512 that differs between the statements (re-signed)", verify.CheckSubjects, verify.ErrSubjectsMismatch, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := tpmIndex(t, envs)
		st := statementOf(t, envs[i])
		st["subject"].([]any)[0].(map[string]any)["digest"].(map[string]any)["sha512"] = strings.Repeat("00", 64)
		envs[i] = resign(t, a.signer, st)
		syncByproducts(t, a.signer, envs)
		return joinLines(t, envs), ""
	}},
	{"subject sha512 not the artifact's, in both statements (re-signed)", verify.CheckSubjects, verify.ErrSubjectMissing, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		for i := range envs {
			st := statementOf(t, envs[i])
			st["subject"].([]any)[0].(map[string]any)["digest"].(map[string]any)["sha512"] = strings.Repeat("00", 64)
			envs[i] = resign(t, a.signer, st)
		}
		syncByproducts(t, a.signer, envs)
		return joinLines(t, envs), ""
	}},
	{"subject name of another file, in both statements (re-signed)", verify.CheckSubjects, verify.ErrSubjectMissing, "", func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		for i := range envs {
			st := statementOf(t, envs[i])
			st["subject"].([]any)[0].(map[string]any)["name"] = "release/installer.sh"
			envs[i] = resign(t, a.signer, st)
		}
		syncByproducts(t, a.signer, envs)
		return joinLines(t, envs), ""
	}},

	// 4. One JSON reading.
	{"IMA beside ima in the predicate (re-signed)", verify.CheckStatement, verify.ErrMalformed, "", rawTPMEdit(func(t *testing.T, body []byte) []byte {
		return bytes.Replace(body, []byte(`"predicate":{`), []byte(`"predicate":{"IMA":{"present":false,"reason":"x"},`), 1)
	})},
	{"predicate member named twice (re-signed)", verify.CheckStatement, verify.ErrMalformed, "", rawTPMEdit(func(t *testing.T, body []byte) []byte {
		return bytes.Replace(body, []byte(`"predicate":{`), []byte(`"predicate":{"build":{"argv":["x"]},`), 1)
	})},
	{"unknown member in the predicate (re-signed)", verify.CheckPredicate, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		pred["ima"].(map[string]any)["log"].(map[string]any)["size"] = 1
	})},

	// 5. The carried log is exact.
	{"entry after window.end: the last again (re-signed)", verify.CheckIMAReplay, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			l := splitLog(t, raw)
			return append(raw, l.records[len(l.records)-1]...)
		})
	})},
	{"entry after window.end: a bad template hash for PCR 11 (re-signed)", verify.CheckIMAReplay, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			l := splitLog(t, raw)
			rec := bytes.Clone(l.records[len(l.records)-1])
			binary.LittleEndian.PutUint32(rec, 11)
			rec[4] ^= 1
			return append(raw, rec...)
		})
	})},
	{"entry after window.end: a violation (re-signed)", verify.CheckIMAReplay, verify.ErrIMALog, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			l := splitLog(t, raw)
			rec := bytes.Clone(l.records[len(l.records)-1])
			clear(rec[4:24])
			return append(raw, rec...)
		})
	})},
	{"records of 16 MiB after window.end (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte { return append(raw, hugeRecord(16<<20)...) })
	})},
	{"zstd stream and 3 bytes after it (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		frame := compress(t, predicates.IMALogEncoding, logBytes(t, lg))
		lg["data"] = base64.StdEncoding.EncodeToString(append(frame, 0, 0, 0))
	})},
	{"gzip stream and 9 bytes after it (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		raw := logBytes(t, lg)
		lg["encoding"] = predicates.IMALogEncodingGzip
		gz := compress(t, predicates.IMALogEncodingGzip, raw)
		lg["data"] = base64.StdEncoding.EncodeToString(append(gz, make([]byte, 9)...))
	})},
	{"gzip stream without its CRC and size trailer (re-signed)", verify.CheckIMAReplay, verify.ErrMalformed, "", predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		lg := imaOf(pred)["log"].(map[string]any)
		raw := logBytes(t, lg)
		lg["encoding"] = predicates.IMALogEncodingGzip
		gz := compress(t, predicates.IMALogEncodingGzip, raw)
		lg["data"] = base64.StdEncoding.EncodeToString(gz[:len(gz)-8])
	})},
}

// lastWindowEntry is the index of the last entry of the predicate's window.
func lastWindowEntry(pred map[string]any) int {
	return jsonInt(imaOf(pred)["window"].(map[string]any)["end"]) - 1
}

// rewriteFields replaces the fields of entry idx of a binary log (a
// length-prefixed template, sha1 template hashes, little-endian) and its
// template hash to match, as a signer who made the log up would.
func rewriteFields(t testing.TB, raw []byte, idx int, edit func([][]byte) [][]byte) []byte {
	t.Helper()
	l := splitLog(t, raw)
	var out bytes.Buffer
	for i, rec := range l.records {
		if i != idx {
			out.Write(rec)
			continue
		}
		e := l.entries[i]
		var data []byte
		for _, f := range edit(append([][]byte(nil), e.Fields...)) {
			data = binary.LittleEndian.AppendUint32(data, uint32(len(f)))
			data = append(data, f...)
		}
		th := sha1.Sum(data)
		out.Write(binary.LittleEndian.AppendUint32(nil, e.PCR))
		out.Write(th[:])
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(e.TemplateName))))
		out.WriteString(e.TemplateName)
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(data))))
		out.Write(data)
	}
	return out.Bytes()
}

// hugeRecord is an ima-buf record of PCR 10 whose buf holds n zero bytes.
func hugeRecord(n int) []byte {
	var data []byte
	for _, f := range [][]byte{append([]byte("sha256:\x00"), make([]byte, 32)...), []byte("big\x00"), make([]byte, n)} {
		data = binary.LittleEndian.AppendUint32(data, uint32(len(f)))
		data = append(data, f...)
	}
	th := sha1.Sum(data)
	rec := binary.LittleEndian.AppendUint32(nil, 10)
	rec = append(rec, th[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, 7)
	rec = append(rec, "ima-buf"...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(data)))
	return append(rec, data...)
}

// slsaEdit re-signs the SLSA statement after edit changes its predicate.
func slsaEdit(edit func(t *testing.T, p map[string]any)) func(*testing.T, *attested, []provtest.EnvelopeJSON) ([]byte, string) {
	return func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := 1 - tpmIndex(t, envs)
		st := statementOf(t, envs[i])
		edit(t, st["predicate"].(map[string]any))
		envs[i] = resign(t, a.signer, st)
		return joinLines(t, envs), ""
	}
}

// rawTPMEdit re-signs the TPM/IMA statement after edit changes its bytes
// (for JSON a map cannot hold: a member twice).
func rawTPMEdit(edit func(t *testing.T, body []byte) []byte) func(*testing.T, *attested, []provtest.EnvelopeJSON) ([]byte, string) {
	return func(t *testing.T, a *attested, envs []provtest.EnvelopeJSON) ([]byte, string) {
		i := tpmIndex(t, envs)
		body, err := base64.StdEncoding.DecodeString(envs[i].Payload)
		if err != nil {
			t.Fatal(err)
		}
		changed := edit(t, body)
		if bytes.Equal(changed, body) {
			t.Fatal("the edit changed nothing")
		}
		env, err := a.signer.SignStatement(context.Background(), changed)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env, &envs[i]); err != nil {
			t.Fatal(err)
		}
		return joinLines(t, envs), ""
	}
}
