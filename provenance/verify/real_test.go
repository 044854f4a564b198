package verify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"go.yaml.in/yaml/v3"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/swtpmtest"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/tpm"
)

// flipResetCount flips a bit of clockInfo.resetCount in a TPMS_ATTEST
// (magic 4, type 2, qualifiedSigner TPM2B, extraData TPM2B, clock 8, then
// resetCount).
func flipResetCount(t testing.TB, attestB64 string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(attestB64)
	if err != nil {
		t.Fatal(err)
	}
	off := 6
	off += 2 + int(binary.BigEndian.Uint16(b[off:]))
	off += 2 + int(binary.BigEndian.Uint16(b[off:]))
	off += 8
	b[off+3] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// flipLogPayload changes one byte of the second entry's template data in a
// predicate's ima.log (sha256 unchanged).
func flipLogPayload(t testing.TB, lg map[string]any) {
	t.Helper()
	log := logBytes(t, lg)
	r, err := evidence.NewReader(bytes.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	r.Next()
	e, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	log[e.Offset+int64(e.Len)-3] ^= 1 // inside the path of entry 1
	setLog(t, lg, log)
}

func swtpmRig(t *testing.T) (provtest.Rig, *swtpmtest.SWTPM) {
	sw, open := provtest.SWTPMSetup(t)
	return provtest.Rig{Open: open, Extend: func(t testing.TB, entries []*evidence.Entry) {
		tp, err := tpm.Open(sw.Ref())
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		for _, e := range entries {
			provtest.PCRExtend(t, tp.Transport(), e)
		}
	}}, sw
}

// editPolicy applies edit to the policy document as a YAML tree.
func editPolicy(t testing.TB, edit func(m map[string]any)) func(string) string {
	return func(doc string) string {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
}

// TestVerifySwtpm: attestations made by the build library on a real swtpm
// around a real kernel's IMA log (vm-debian12-swtpm), verified against a
// policy made by policy init; the tamper matrix; allowlist and Keylime
// enforcement; a TPM reset between the quotes.
func TestVerifySwtpm(t *testing.T) {
	log := loadVMLog(t)
	r, sw := swtpmRig(t)
	a := attestAround(t, r, log, 30, "hello swtpm")
	// Boot scope covers entry 8 of the log, a violation: allowed knowingly
	// (policy init writes allowViolations: false).
	bootPolicy := func(t testing.TB, edit func(m map[string]any)) *policy.Policy {
		return policyFor(t, a, policy.ScopeBoot, editPolicy(t, func(m map[string]any) {
			m["ima"].(map[string]any)["allowViolations"] = true
			edit(m)
		}))
	}
	p := bootPolicy(t, func(map[string]any) {})

	t.Run("tamper", func(t *testing.T) { runTamperMatrix(t, a, p) })
	t.Run("policy", func(t *testing.T) { runPolicyMatrix(t, a, allowViolations) })

	good, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	// A path measured by the real kernel, in the window.
	victim := log.entries[40]
	victimDigest := victim.FileDigestAlg + ":" + hex.EncodeToString(victim.FileDigest)

	t.Run("allowlist entry removed names the path", func(t *testing.T) {
		p := bootPolicy(t, func(m map[string]any) {
			ima := m["ima"].(map[string]any)
			var kept []any
			for _, it := range ima["allow"].([]any) {
				if it.(map[string]any)["path"] != victim.Path {
					kept = append(kept, it)
				}
			}
			ima["allow"] = kept
		})
		_, err := verifyBytes(t, p, good, a.artifact)
		ce := wantCheck(t, err, verify.CheckIMARules)
		f := ce.Report.Facts.IMA.Findings
		if len(f) == 0 || f[0].Path != victim.Path || f[0].Rule != "allowlist" {
			t.Fatalf("findings %+v, want %s first", f, victim.Path)
		}
	})
	t.Run("allowlisted digest removed names the path", func(t *testing.T) {
		p := bootPolicy(t, func(m map[string]any) {
			for _, it := range m["ima"].(map[string]any)["allow"].([]any) {
				if e := it.(map[string]any); e["path"] == victim.Path {
					e["digests"] = []any{"sha256:" + sha256hex([]byte("another file"))}
				}
			}
		})
		_, err := verifyBytes(t, p, good, a.artifact)
		ce := wantCheck(t, err, verify.CheckIMARules)
		f := ce.Report.Facts.IMA.Findings
		if len(f) != 1 || f[0].Path != victim.Path || f[0].Digest != victimDigest {
			t.Fatalf("findings %+v, want exactly %s %s", f, victim.Path, victimDigest)
		}
	})

	t.Run("keylime runtime policy", func(t *testing.T) {
		digests := map[string][]string{}
		for _, e := range withBootAggregate(t, log).entries { // as attestAround logged it
			if !e.Violation() && e.Path != "" {
				digests[e.Path] = append(digests[e.Path], hex.EncodeToString(e.FileDigest))
			}
		}
		write := func(d map[string][]string, excludes []string) string {
			doc, _ := json.Marshal(map[string]any{
				"meta": map[string]any{"version": 1, "generator": 1, "timestamp": "2025-01-01"}, "release": 0,
				"digests": d, "excludes": excludes, "keyrings": map[string]any{},
				"ima":     map[string]any{"ignored_keyrings": []any{}, "log_hash_alg": "sha1", "dm_policy": nil},
				"ima-buf": map[string]any{}, "verification-keys": "",
			})
			path := filepath.Join(t.TempDir(), "runtime-policy.json")
			if err := os.WriteFile(path, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
		withKeylime := func(path string) *policy.Policy {
			return bootPolicy(t, func(m map[string]any) {
				ima := m["ima"].(map[string]any)
				delete(ima, "allow")
				ima["keylimeRuntimePolicy"] = []any{path}
			})
		}
		if _, err := verifyBytes(t, withKeylime(write(digests, nil)), good, a.artifact); err != nil {
			t.Fatalf("Keylime policy for the log: %v", err)
		}
		bad := map[string][]string{}
		for k, v := range digests {
			bad[k] = v
		}
		bad[victim.Path] = []string{sha256hex([]byte("another file"))}
		_, err := verifyBytes(t, withKeylime(write(bad, nil)), good, a.artifact)
		ce := wantCheck(t, err, verify.CheckIMARules)
		if f := ce.Report.Facts.IMA.Findings; len(f) != 1 || f[0].Path != victim.Path {
			t.Fatalf("findings %+v, want %s", f, victim.Path)
		}
		// Keylime's excludes (regex, matched at the start of the path) skip it.
		if _, err := verifyBytes(t, withKeylime(write(bad, []string{regexpQuote(victim.Path)})), good, a.artifact); err != nil {
			t.Fatalf("excluded path still checked: %v", err)
		}
	})

	t.Run("AK not in policy", func(t *testing.T) {
		other, _ := provtest.TestKeyPEM(t)
		p := bootPolicy(t, func(m map[string]any) {
			ak := m["builders"].([]any)[0].(map[string]any)["attestationKeys"].([]any)[0].(map[string]any)
			ak["publicKey"] = other
			delete(ak, "fingerprint")
		})
		_, err := verifyBytes(t, p, good, a.artifact)
		wantCheck(t, err, verify.CheckAttestationKey)
	})

	t.Run("swtpm attestation vs a device-only policy", func(t *testing.T) {
		p := bootPolicy(t, func(m map[string]any) { m["tpmModes"] = []any{"device"} })
		_, err := verifyBytes(t, p, good, a.artifact)
		wantCheck(t, err, verify.CheckTPMMode)
	})

	// A quote taken after the build, in the same boot, given as the start
	// quote with its nonce: its clock is later than the end quote's.
	t.Run("start quote later than the end quote", func(t *testing.T) {
		nonce := []byte("a later start quote")
		changed, _ := predicateEdit(func(t *testing.T, _ *attested, pred map[string]any) {
			pred["quotes"].(map[string]any)["start"] = freshQuote(t, sw, nonce)
			pred["nonce"].(map[string]any)["start"] = hex.EncodeToString(nonce)
		})(t, a, provtest.Lines(t, good))
		_, err := verifyBytes(t, p, changed, a.artifact)
		wantReboot(t, err)
	})

	// TPM2_Shutdown(STATE), power cycle, TPM2_Startup(CLEAR): a TPM
	// restart (PCRs reset, restartCount + 1; resetCount and clock go on).
	t.Run("TPM restart between the quotes", func(t *testing.T) {
		powerCycle(t, sw, tpm2.TPMSUState, tpm2.TPMSUClear)
		b := attestAround(t, r, log, 30, "hello swtpm")
		sa, sb := attestOf(t, quote(predicateMap(t, good), "start")), attestOf(t, quote(predicateMap(t, mustRead(t, b.att)), "end"))
		if sa.ClockInfo.ResetCount != sb.ClockInfo.ResetCount || sa.ClockInfo.RestartCount+1 != sb.ClockInfo.RestartCount || sb.ClockInfo.Clock <= sa.ClockInfo.Clock {
			t.Fatalf("clock info before %+v, after %+v: want restartCount + 1 only", sa.ClockInfo, sb.ClockInfo)
		}
		_, err := verifyBytes(t, p, spliceStart(t, a.signer, mustRead(t, b.att), good), b.artifact)
		wantReboot(t, err)
	})

	t.Run("TPM reset between the quotes", func(t *testing.T) {
		powerCycle(t, sw, tpm2.TPMSUClear, tpm2.TPMSUClear)
		b := attestAround(t, r, log, 30, "hello swtpm")
		// B's end quote with A's start quote (and its nonce): before the reset.
		_, err := verifyBytes(t, p, spliceStart(t, a.signer, mustRead(t, b.att), good), b.artifact)
		wantReboot(t, err)
	})
}

// powerCycle sends TPM2_Shutdown(shutdown), power-cycles the swtpm
// (swtpm_ioctl -i) and sends TPM2_Startup(startup), as firmware would.
func powerCycle(t *testing.T, sw *swtpmtest.SWTPM, shutdown, startup tpm2.TPMSU) {
	t.Helper()
	ioctl := realtest.LookPath(t, "swtpm_ioctl", "swtpm-tools")
	tp, err := tpm.Open(sw.Ref())
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpm2.Shutdown{ShutdownType: shutdown}.Execute(tp.Transport())
	tp.Close()
	if err != nil {
		t.Fatalf("TPM2_Shutdown: %v", err)
	}
	if out, err := exec.Command(ioctl, "--unix", sw.Ctrl, "-i").CombinedOutput(); err != nil {
		t.Fatalf("swtpm_ioctl -i: %v: %s", err, out)
	}
	if tp, err = tpm.Open(sw.Ref()); err != nil {
		t.Fatal(err)
	}
	_, err = tpm2.Startup{StartupType: startup}.Execute(tp.Transport())
	tp.Close()
	if err != nil {
		t.Fatalf("TPM2_Startup: %v", err)
	}
}

// freshQuote has the swtpm quote the attestation's selection with the
// default AK over nonce, and returns it as a predicate quote.
func freshQuote(t testing.TB, sw *swtpmtest.SWTPM, nonce []byte) map[string]any {
	t.Helper()
	tp, err := tpm.Open(sw.Ref())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	sel, err := tpm.ParsePCRSelection("sha256:0-10+sha1:10")
	if err != nil {
		t.Fatal(err)
	}
	ak, err := tp.EnsureAK(tpm.AKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := tp.Quote(ak, sel, nonce)
	if err != nil {
		t.Fatal(err)
	}
	pq := predicates.Quote{Attest: q.Attest, Signature: q.Signature}
	for _, v := range q.PCRs {
		pq.PCRs = append(pq.PCRs, predicates.PCR{Bank: v.Bank, Index: v.Index, Value: hex.EncodeToString(v.Value)})
	}
	b, err := json.Marshal(pq)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// spliceStart returns the attestation base with the start quote (and start
// nonce) of from, both statements re-signed by signer.
func spliceStart(t testing.TB, signer *provenance.Signer, base, from []byte) []byte {
	t.Helper()
	envs := provtest.Lines(t, base)
	i := tpmIndex(t, envs)
	st := statementOf(t, envs[i])
	pred, src := st["predicate"].(map[string]any), predicateMap(t, from)
	pred["quotes"].(map[string]any)["start"] = quote(src, "start")
	pred["nonce"].(map[string]any)["start"] = src["nonce"].(map[string]any)["start"]
	envs[i] = resign(t, signer, st)
	syncByproducts(t, signer, envs)
	return joinLines(t, envs)
}

// predicateMap returns the TPM/IMA predicate of an attestation file.
func predicateMap(t testing.TB, att []byte) map[string]any {
	t.Helper()
	envs := provtest.Lines(t, att)
	return statementOf(t, envs[tpmIndex(t, envs)])["predicate"].(map[string]any)
}

// wantReboot asserts a same-boot failure.
func wantReboot(t testing.TB, err error) {
	t.Helper()
	wantCheck(t, err, verify.CheckSameBoot)
	if !errors.Is(err, verify.ErrReboot) {
		t.Fatalf("err = %v, want errors.Is ErrReboot", err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
