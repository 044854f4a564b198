package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// The real attestation of testdata/secureboot: a build in a VM booted with
// OVMF, Secure Boot on, Debian's signed shim, grub and kernel, swtpm.
var (
	sbDir      = filepath.Join("..", "..", "testdata", "secureboot")
	sbKernel   = "sha256:61e79ca0acd7e9f18984bea7b44650801ed54fd95a8786c16c583b86acf9d538"
	sbFinished = time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
)

// secureBootAttested returns the real attestation with a fresh signer that
// re-signs edited statements (the policy trusts it and the build's key).
func secureBootAttested(t *testing.T) (*attested, crypto.PublicKey) {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(sbDir, "signer.pub"))
	if err != nil {
		t.Fatal(err)
	}
	buildKey, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return &attested{att: filepath.Join(sbDir, "app.bin.intoto.jsonl"), artifact: filepath.Join(sbDir, "app.bin"), signer: newSigner(t)}, buildKey
}

// secureBootPolicy is policy init's policy from the real attestation (its
// boot: section requires Secure Boot, the kernel, the boot loaders, IMA's
// parameters), trusting a's re-signing key too, edited by edit.
func secureBootPolicy(t *testing.T, a *attested, buildKey crypto.PublicKey, edit func(m map[string]any)) *policy.Policy {
	t.Helper()
	f, err := os.Open(a.att)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := verify.InitPolicy(context.Background(), f, verify.PolicyInitOptions{SignerKeys: []crypto.PublicKey{buildKey}, Now: func() time.Time { return sbFinished }})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"secureBoot: required", "- " + sbKernel + " # /vmlinuz", "require: [ima_policy=tcb, ima_template=ima-ng, ima_hash=sha256]", "forbid: [ima_appraise=off]"} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("policy init's boot section lacks %q:\n%s", want, doc)
		}
	}
	extra, err := cryptoutils.MarshalPublicKeyToPEM(a.signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	text := editPolicy(t, func(m map[string]any) {
		m["signers"] = append(m["signers"].([]any), map[string]any{"name": "re-signer", "publicKey": string(extra)})
		if edit != nil {
			edit(m)
		}
	})(string(doc))
	p, err := policy.ParsePolicy([]byte(text), "policy.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return p
}

func bootSection(m map[string]any) map[string]any { return m["boot"].(map[string]any) }

// TestVerifySecureBootReal verifies the real Secure Boot attestation under
// the policy policy init writes from it, then under policies it breaks.
func TestVerifySecureBootReal(t *testing.T) {
	a, key := secureBootAttested(t)
	att, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	clock := verify.WithClock(func() time.Time { return sbFinished })
	rep, err := verifyBytes(t, secureBootPolicy(t, a, key, nil), att, a.artifact, clock)
	if err != nil {
		t.Fatalf("the real Secure Boot attestation fails its own policy: %v", err)
	}
	b := rep.Facts.Boot
	if b == nil || !b.Present || b.State == nil || !b.State.SecureBoot.Verified || b.State.Kernel.Digest != sbKernel {
		t.Fatalf("boot facts %+v: want the verified Secure Boot state with kernel %s", b, sbKernel)
	}
	if !strings.HasPrefix(b.BootAggregate, "IMA's boot_aggregate sha256:") {
		t.Errorf("boot_aggregate not checked: %q", b.BootAggregate)
	}
	if s := strings.Join(b.Summary, "\n"); !strings.Contains(s, "Secure Boot: on, verified by Microsoft Corporation UEFI CA 2011, Debian Secure Boot CA") {
		t.Errorf("summary:\n%s", s)
	}

	tests := []struct {
		name     string
		edit     func(boot map[string]any)
		rule     string
		expected string
	}{
		{"another kernel", func(b map[string]any) { b["kernels"] = []any{"sha256:" + strings.Repeat("ab", 32)} }, "kernels", "one of sha256:abab"},
		{"grub not allowed", func(b map[string]any) { b["bootLoaders"] = b["bootLoaders"].([]any)[:1] }, "bootLoaders", "one of sha256:80a66d53"},
		{"ima_appraise=enforce required", func(b map[string]any) {
			b["commandLine"] = map[string]any{"require": []any{"ima_appraise=enforce"}}
		}, "commandLine.require", "ima_appraise=enforce"},
		{"the IMA policy forbidden", func(b map[string]any) { b["commandLine"] = map[string]any{"forbid": []any{"ima_policy="}} }, "commandLine.forbid", "no ima_policy="},
		{"another dbx", func(b map[string]any) { b["dbx"] = []any{"sha256:" + strings.Repeat("00", 32)} }, "dbx", "one of sha256:0000"},
		{"another authority", func(b map[string]any) { b["authorities"] = []any{"sha256:" + strings.Repeat("00", 32)} }, "authorities", "one of sha256:0000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := secureBootPolicy(t, a, key, func(m map[string]any) { tc.edit(bootSection(m)) })
			_, err := verifyBytes(t, p, att, a.artifact, clock)
			ce := wantCheck(t, err, verify.CheckBootRules)
			if !errors.Is(err, verify.ErrBootRule) || !strings.HasPrefix(ce.Expected, "boot."+tc.rule+": "+tc.expected) || ce.Found == "" {
				t.Errorf("failed with %v, expected %q, found %q; want rule %s expecting %q", err, ce.Expected, ce.Found, tc.rule, tc.expected)
			}
			if f := ce.Report.Facts.Boot; f == nil || len(f.Findings) == 0 || f.Findings[0].Rule != tc.rule {
				t.Errorf("report's boot findings %+v, want rule %s first", f, tc.rule)
			}
		})
	}
}

func bootLogOf(pred map[string]any) map[string]any { return pred["bootLog"].(map[string]any) }

// TestVerifySecureBootTamper edits the carried boot log of the real
// attestation (re-signed by a trusted signer that lies): verify refuses at
// boot-log, naming the PCR for an edited event.
func TestVerifySecureBootTamper(t *testing.T) {
	a, key := secureBootAttested(t)
	p := secureBootPolicy(t, a, key, nil)
	noRules := secureBootPolicy(t, a, key, func(m map[string]any) { delete(m, "boot") })
	att, err := os.ReadFile(a.att)
	if err != nil {
		t.Fatal(err)
	}
	kernel, _ := hex.DecodeString(strings.TrimPrefix(sbKernel, "sha256:"))
	tests := []struct {
		name     string
		policy   *policy.Policy
		edit     func(t *testing.T, a *attested, pred map[string]any)
		is       error
		expected string // prefix of the failure's expected value
	}{
		{"kernel event digest (PCR 4)", p, func(t *testing.T, _ *attested, pred map[string]any) {
			bl := bootLogOf(pred)
			raw := logBytes(t, bl)
			i := bytes.Index(raw, kernel)
			if i < 0 {
				t.Fatal("no kernel digest in the log")
			}
			raw[i+5] ^= 1
			setLog(t, bl, raw)
			bl["sha256"] = sha256hex(raw)
		}, verify.ErrBootLog, "sha256 PCR 4 of the start quote"},
		{"kernel command line text (PCR 8 data)", p, func(t *testing.T, _ *attested, pred map[string]any) {
			bl := bootLogOf(pred)
			raw := bytes.Replace(logBytes(t, bl), []byte("ima_policy=tcb"), []byte("ima_pxlicy=tcb"), 1)
			setLog(t, bl, raw)
			bl["sha256"] = sha256hex(raw)
		}, bootlog.ErrEventData, "PCRs 0-9 of the start quote"},
		{"log SHA-256", p, func(t *testing.T, _ *attested, pred map[string]any) {
			bootLogOf(pred)["sha256"] = strings.Repeat("00", 32)
		}, verify.ErrMalformed, "a binary_bios_measurements+zstd log"},
		{"log removed, policy has boot rules", p, func(t *testing.T, _ *attested, pred map[string]any) {
			delete(pred, "bootLog")
		}, verify.ErrBootLogMissing, "a firmware event log"},
		{"log recorded absent, policy has boot rules", p, func(t *testing.T, _ *attested, pred map[string]any) {
			pred["bootLog"] = map[string]any{"present": false, "reason": "not readable"}
		}, verify.ErrBootLogMissing, "a firmware event log"},
		{"another machine's log, no boot rules", noRules, func(t *testing.T, _ *attested, pred map[string]any) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "bootlog", "testdata", "ovmf-sb-shim", "binary_bios_measurements"))
			if err != nil {
				t.Fatal(err)
			}
			bl := bootLogOf(pred)
			setLog(t, bl, raw)
			bl["sha256"] = sha256hex(raw)
		}, verify.ErrBootLog, "sha256 PCR"},
	}
	clock := verify.WithClock(func() time.Time { return sbFinished })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed, _ := predicateEdit(tc.edit)(t, a, provtest.Lines(t, att))
			_, err := verifyBytes(t, tc.policy, changed, a.artifact, clock)
			ce := wantCheck(t, err, verify.CheckBootLog)
			if !errors.Is(err, tc.is) || !strings.HasPrefix(ce.Expected, tc.expected) || ce.Found == "" {
				t.Errorf("failed with %v\nexpected %q\nfound %q\nwant errors.Is %v, expected starting %q", err, ce.Expected, ce.Found, tc.is, tc.expected)
			}
		})
	}
	t.Run("log recorded absent, no boot rules: passes", func(t *testing.T) {
		changed, _ := predicateEdit(func(t *testing.T, _ *attested, pred map[string]any) {
			pred["bootLog"] = map[string]any{"present": false, "reason": "no firmware event log at /x"}
		})(t, a, provtest.Lines(t, att))
		rep, err := verifyBytes(t, noRules, changed, a.artifact, clock)
		if err != nil {
			t.Fatal(err)
		}
		if b := rep.Facts.Boot; b == nil || b.Present || b.Reason != "no firmware event log at /x" {
			t.Errorf("boot facts %+v", b)
		}
	})
}
