//go:build simulator && cgo

package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// TestWriteAdversarialFixtures writes the adversarial attestations of
// issue 12 to $ATTEST_BUILD_ADVERSARIAL_DIR, beside a good one, its
// artifact (out.bin), policy (policy.yaml, boot scope) and signer key
// (signer.pub): scripts/bench-adversarial.sh measures verify on each
// (docs/benchmarks.md, "Adversarial inputs"). Every adv-*.jsonl must be
// refused. Skipped without that variable.
func TestWriteAdversarialFixtures(t *testing.T) {
	dir := os.Getenv("ATTEST_BUILD_ADVERSARIAL_DIR")
	if dir == "" {
		t.Skip("set ATTEST_BUILD_ADVERSARIAL_DIR to write the adversarial verify fixtures")
	}
	a := simAttestation(t)
	good := mustRead(t, a.att)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("good.jsonl", good)
	write("out.bin", mustRead(t, a.artifact))
	pub, err := cryptoutils.MarshalPublicKeyToPEM(a.signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	write("signer.pub", pub)
	f, err := os.Open(a.att)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := verify.InitPolicy(context.Background(), f, verify.PolicyInitOptions{Scope: policy.ScopeBoot, SignerKeys: []crypto.PublicKey{a.signer.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	write("policy.yaml", []byte(editPolicy(t, allowViolations)(string(doc))))

	// A few 16 MiB records after window.end: 43 KB of attestation that
	// cost about 1 GB before (refused at the first record's length).
	huge, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		editLog(t, pred, func(raw []byte) []byte {
			for range 4 {
				raw = append(raw, hugeRecord(16<<20)...)
			}
			return raw
		})
	})(t, a, provtest.Lines(t, good))
	write("adv-16MiB-records-after-end.jsonl", huge)

	// Records at the kernel's limit inside the window, up to
	// ima.maxLogBytes (default 256 MiB): every byte is read and hashed before the
	// window's end refuses the replay; the policy's limit bounds the work.
	big, _ := predicateEdit(func(t *testing.T, a *attested, pred map[string]any) {
		m := imaOf(pred)
		w := m["window"].(map[string]any)
		n := 0
		editLog(t, pred, func(raw []byte) []byte {
			rec := hugeRecord(evidence.DefaultMaxRecordSize - 64)
			for len(raw)+len(rec) <= policy.DefaultMaxIMALogBytes {
				raw = append(raw, rec...)
				n++
			}
			return raw
		})
		end := jsonInt(w["end"]) + n
		w["end"] = end
		m["log"].(map[string]any)["entries"] = end
		showLog(t, pred) // window entries and template as the log says
	})(t, a, provtest.Lines(t, good))
	write("adv-256MiB-of-kernel-size-records.jsonl", big)

	// 100,000 extra members in the predicate (about 2 MB): quadratic
	// duplicate detection took a minute; the last one repeats a name.
	members, _ := rawTPMEdit(func(t *testing.T, body []byte) []byte {
		var b strings.Builder
		b.WriteString(`"predicate":{`)
		for i := range 100_000 {
			b.WriteString(`"m` + strconv.Itoa(i) + `":0,`)
		}
		b.WriteString(`"m7":1,`)
		return bytes.Replace(body, []byte(`"predicate":{`), []byte(b.String()), 1)
	})(t, a, provtest.Lines(t, good))
	write("adv-100k-members.jsonl", members)

	// 256 MiB of envelopes no trusted key signed: one large, and 16 of
	// 16 MiB.
	unsigned := func(payload int, count int) []byte {
		return unsignedSigs(t, payload, count, 1)
	}
	write("adv-unsigned-1x190MiB.jsonl", unsigned(190<<20, 1))
	write("adv-unsigned-16x12MiB.jsonl", unsigned(12<<20, 16))
	// The same payload with the 8 signatures allowed: each (signature,
	// key) pair used to hash the payload again.
	write("adv-unsigned-1x190MiB-8sigs.jsonl", unsignedSigs(t, 190<<20, 1, 8))
	// A signed envelope, then unsigned ones: refused at the second line,
	// the rest not read (each envelope's signature is checked as it is
	// read).
	first, _, _ := bytes.Cut(good, []byte("\n"))
	write("adv-signed-then-15x12MiB-unsigned.jsonl", append(append(first, '\n'), unsigned(12<<20, 15)...))
}

// unsignedSigs returns count lines of an envelope of a payload of n bytes
// with sigs signatures by no key (ECDSA-shaped DER, so that a verifier
// gets as far as comparing them).
func unsignedSigs(t testing.TB, n, count, sigs int) []byte {
	t.Helper()
	der := base64.StdEncoding.EncodeToString([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	var ss []any
	for range sigs {
		ss = append(ss, map[string]any{"keyid": "k", "sig": der})
	}
	env := map[string]any{"payloadType": "application/vnd.in-toto+json",
		"payload":    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), n)),
		"signatures": ss}
	line, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(append(line, '\n'), count)
}
