package provenance_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/internal/thirdparty"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
	"github.com/attest-build/attest-build/schemas"
)

// bundled is a swtpm attestation with --bundle and --detach-log.
type bundled struct {
	res      *provenance.Result
	artifact string
	pubPath  string
}

// attestBundled attests a one-file build on a real swtpm with an IMA log,
// signed by a key of the given kind, writing Sigstore bundles and the
// detached log.
func attestBundled(t *testing.T, kind string) bundled {
	t.Helper()
	sw, open, signer, pubPath := swtpmSigner(t, kind)
	extend := pcrExtender(t, sw)
	dir, side := t.TempDir(), t.TempDir()
	log := filepath.Join(side, "binary_runtime_measurements")
	provtest.AppendIMA(t, log, []string{"boot_aggregate", "/usr/bin/bash", "/usr/bin/make"}, extend)
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command:   provenance.Command{Argv: []string{"sh", "-c", "mkdir -p dist; printf 'bundled artifact' > dist/app.tar"}, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Artifacts: []string{"dist/app.tar"},
		Signer:    signer,
		TPM:       open,
		IMALog:    log,
		Bundle:    true,
		DetachLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSigningKey(t, kind, res, pubPath)
	return bundled{res: res, artifact: filepath.Join(dir, "dist", "app.tar"), pubPath: pubPath}
}

// --bundle writes one Sigstore bundle v0.3 per statement, named after the
// output and the statement, each holding the attestation file's envelope;
// sigstore-go verifies each with the public key, for the artifact's digest,
// with no transparency log; --detach-log writes the log whose SHA-256 the
// predicate holds and leaves the data out of the predicate. Signed by a key
// file or by the TPM-resident key, alike.
func TestBundleSigstoreGo(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind, func(t *testing.T) { bundleSigstoreGo(t, attestBundled(t, kind)) })
	}
}

func bundleSigstoreGo(t *testing.T, b bundled) {
	res := b.res
	base := strings.TrimSuffix(res.Output, ".intoto.jsonl")
	want := []string{base + ".tpm-ima.sigstore.json", base + ".slsa.sigstore.json"}
	if len(res.Bundles) != 2 || res.Bundles[0] != want[0] || res.Bundles[1] != want[1] {
		t.Fatalf("bundles %v, want %v", res.Bundles, want)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(mustReadFile(t, b.pubPath))
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadVerifier(pub, thirdparty.DefaultHash(pub))
	if err != nil {
		t.Fatal(err)
	}
	trusted := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	v, err := sgverify.NewVerifier(trusted, sgverify.WithNoObserverTimestamps())
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("bundled artifact"))
	types := []string{predicates.TPMIMAType, predicates.SLSAProvenanceType}
	for i, path := range res.Bundles {
		var bb bundle.Bundle
		if err := bb.UnmarshalJSON(mustReadFile(t, path)); err != nil {
			t.Fatalf("%s: sigstore-go cannot load it: %v", path, err)
		}
		if mt := bb.GetMediaType(); mt != provenance.BundleMediaType {
			t.Errorf("%s: mediaType %s", path, mt)
		}
		if n := len(bb.GetVerificationMaterial().GetTlogEntries()); n != 0 {
			t.Errorf("%s: %d tlog entries, want none", path, n)
		}
		env := bb.GetDsseEnvelope()
		var line struct{ Payload []byte }
		if err := json.Unmarshal(res.Envelopes[i], &line); err != nil {
			t.Fatal(err)
		}
		if env == nil || !bytes.Equal(env.GetPayload(), line.Payload) {
			t.Fatalf("%s: not the attestation file's envelope %d", path, i+1)
		}
		r, err := v.Verify(&bb, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", digest[:]), sgverify.WithKey()))
		if err != nil {
			t.Fatalf("%s: sigstore-go refuses it: %v", path, err)
		}
		if r.Statement.GetPredicateType() != types[i] {
			t.Errorf("%s: predicateType %s, want %s", path, r.Statement.GetPredicateType(), types[i])
		}
		other := sha256.Sum256([]byte("another artifact"))
		if _, err := v.Verify(&bb, sgverify.NewPolicy(sgverify.WithArtifactDigest("sha256", other[:]), sgverify.WithKey())); err == nil {
			t.Errorf("%s: sigstore-go accepts it for another artifact", path)
		}
	}

	// The detached log.
	ima := res.Predicate.IMA
	if res.DetachedLog != base+".ima.binary_runtime_measurements" || ima.Log == nil || !ima.Log.Detached || len(ima.Log.Data) != 0 {
		t.Fatalf("detached log %q, predicate log %+v", res.DetachedLog, ima.Log)
	}
	sum := sha256.Sum256(mustReadFile(t, res.DetachedLog))
	if hex.EncodeToString(sum[:]) != ima.Log.SHA256 {
		t.Fatalf("detached log SHA-256 %x, predicate ima.log.sha256 %s", sum, ima.Log.SHA256)
	}
	sts := provtest.ReadAttestation(t, res.Output, b.pubPath)
	_, raw := provtest.TPMPredicate(t, sts)
	if err := schemas.ValidateTPMIMA(raw); err != nil {
		t.Fatalf("schema: %v", err)
	}
	if bytes.Contains(raw, []byte(`"data"`)) || !bytes.Contains(raw, []byte(`"detached":true`)) {
		t.Fatalf("predicate log: %s", raw)
	}
}

// cosign v3 verifies each bundle as its documentation says, given the key,
// the bundle file, the statement's type and the artifact; signed by a key
// file or by the TPM-resident key, alike.
func TestBundleCosign(t *testing.T) {
	cosign := realtest.Cosign(t)
	for _, kind := range keyKinds {
		t.Run(kind, func(t *testing.T) { bundleCosign(t, cosign, attestBundled(t, kind)) })
	}
}

func bundleCosign(t *testing.T, cosign string, b bundled) {
	types := map[string]string{"tpm-ima": predicates.TPMIMAType, "slsa": "slsaprovenance1"}
	for short, typ := range types {
		path := strings.TrimSuffix(b.res.Output, ".intoto.jsonl") + "." + short + ".sigstore.json"
		run := func(artifact string) ([]byte, error) {
			cmd := exec.Command(cosign, "verify-blob-attestation", "--key", b.pubPath, "--bundle", path,
				"--insecure-ignore-tlog", "--type", typ, artifact)
			cmd.Env = append(os.Environ(), "SIGSTORE_NO_CACHE=1", "TUF_ROOT="+t.TempDir())
			return cmd.CombinedOutput()
		}
		if out, err := run(b.artifact); err != nil {
			t.Errorf("cosign verify-blob-attestation %s: %v\n%s", filepath.Base(path), err, out)
		}
		other := filepath.Join(t.TempDir(), "other")
		if err := os.WriteFile(other, []byte("another artifact"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run(other); err == nil {
			t.Errorf("cosign accepts %s for another artifact:\n%s", filepath.Base(path), out)
		}
	}
}

// policyForBundled is a policy that trusts the signer and the swtpm's AK of
// an attestBundled attestation, with IMA required.
func policyForBundled(t *testing.T, b bundled) *policy.Policy {
	t.Helper()
	ind := func(s, pad string) string {
		return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
	}
	id, err := provenance.BuilderID(predicates.ModeSwtpm, "")
	if err != nil {
		t.Fatal(err)
	}
	doc := "version: 1\nsigners:\n  - name: release\n    publicKey: |\n" + ind(string(mustReadFile(t, b.pubPath)), "      ") +
		"\nbuilders:\n  - name: swtpm\n    attestationKeys:\n      - publicKey: |\n" + ind(b.res.Predicate.AttestationKey.PublicKeyPEM, "          ") +
		"\nbuilderIds: [" + id + "]\ntpmModes: [swtpm]\nima:\n  required: true\n"
	p, err := policy.ParsePolicy([]byte(doc), "policy.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return p
}

// verify takes the detached log beside the attestation, and the bundles in
// place of the attestation file; without the log, or with a changed one, it
// refuses.
func TestVerifyBundlesAndDetachedLog(t *testing.T) {
	b := attestBundled(t, fileKey)
	v, err := verify.NewVerifier(policyForBundled(t, b))
	if err != nil {
		t.Fatal(err)
	}
	art, err := verify.ArtifactFromFile(b.artifact)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	jsonl := mustReadFile(t, b.res.Output)
	logBytes := mustReadFile(t, b.res.DetachedLog)
	if _, err := v.VerifyDetached(ctx, bytes.NewReader(jsonl), bytes.NewReader(logBytes), art); err != nil {
		t.Fatalf("attestation with its detached log: %v", err)
	}
	var fromBundles []byte
	for _, p := range b.res.Bundles {
		line, err := provenance.EnvelopeFromBundle(mustReadFile(t, p))
		if err != nil {
			t.Fatal(err)
		}
		fromBundles = append(append(fromBundles, line...), '\n')
	}
	if _, err := v.VerifyDetached(ctx, bytes.NewReader(fromBundles), bytes.NewReader(logBytes), art); err != nil {
		t.Fatalf("bundles with the detached log: %v", err)
	}
	wantCheck := func(name string, err error, check verify.Check) {
		t.Helper()
		var ce *verify.CheckError
		if !errors.As(err, &ce) || ce.Check != check {
			t.Errorf("%s: err %v, want a failed %s check", name, err, check)
		}
	}
	_, err = v.Verify(ctx, bytes.NewReader(jsonl), art)
	wantCheck("no detached log", err, verify.CheckIMALog)
	// policy init reads the detached log too, and refuses without it.
	pub, err := provenance.LoadPublicKey(mustReadFile(t, b.pubPath))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.InitPolicy(ctx, bytes.NewReader(jsonl), verify.PolicyInitOptions{SignerKeys: []crypto.PublicKey{pub}, DetachedLog: bytes.NewReader(logBytes)}); err != nil {
		t.Errorf("policy init with the detached log: %v", err)
	}
	_, err = verify.InitPolicy(ctx, bytes.NewReader(jsonl), verify.PolicyInitOptions{SignerKeys: []crypto.PublicKey{pub}})
	wantCheck("policy init without the detached log", err, verify.CheckIMALog)
	changed := bytes.Clone(logBytes)
	changed[len(changed)-1] ^= 1
	_, err = v.VerifyDetached(ctx, bytes.NewReader(jsonl), bytes.NewReader(changed), art)
	wantCheck("changed detached log", err, verify.CheckIMAReplay)
	_, err = v.VerifyDetached(ctx, bytes.NewReader(fromBundles[:bytes.IndexByte(fromBundles, '\n')+1]), bytes.NewReader(logBytes), art)
	wantCheck("the TPM/IMA bundle alone", err, verify.CheckStatement)
}
