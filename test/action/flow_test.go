package action_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// The whole flow as a workflow runs it: a build job attests examples/hello on
// the embedded simulator with the key given as a secret's PEM text; a deploy
// job verifies the artifact under examples/policy-sim.yaml; a tampered
// artifact fails the deploy job. Checks the outputs, the job summaries, and
// the provenance fields the GitHub environment put in the attestation.
func TestActionBuildAndVerifyOnSimulator(t *testing.T) {
	realtest.LookPath(t, "gcc", "gcc") // the embedded simulator (tpm: sim) is built with cgo
	realtest.LookPath(t, "make", "make")
	ws := t.TempDir()
	copyDir(t, filepath.Join(repoRoot(t), "examples", "hello"), filepath.Join(ws, "hello"))
	keyPEM, pubPEM := newSigningKey(t)
	pubFile := filepath.Join(ws, "signing.pub")
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	// Build job.
	build := newRunner(t, ws)
	res := build.run(map[string]string{
		"command":           "make dist",
		"artifacts":         "dist/hello.tar.gz",
		"key":               string(keyPEM),
		"tpm":               "sim",
		"working-directory": "hello",
	})
	if f := res.failedStep(); f != nil {
		t.Fatalf("build job failed at %q:\n%s", f.Name, res.log())
	}
	artifact := filepath.Join(ws, "hello", "dist", "hello.tar.gz")
	// The attestation is in a folder of the runner's temporary directory
	// (which a build run as another user cannot write), not in the
	// workspace; the deploy job gets it beside the artifact, as
	// upload-artifact and download-artifact would put it.
	att := res.Outputs["attestation"]
	if filepath.Base(att) != "hello.tar.gz.intoto.jsonl" || !strings.HasPrefix(att, build.temp+string(filepath.Separator)) {
		t.Fatalf("output attestation = %q, want hello.tar.gz.intoto.jsonl under RUNNER_TEMP %s", att, build.temp)
	}
	if _, err := os.Lstat(artifact + ".intoto.jsonl"); err == nil {
		t.Errorf("an attestation was written into the workspace too")
	}
	attData, err := os.ReadFile(att)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(artifact+".intoto.jsonl", attData, 0o644); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.log(), strings.Split(string(keyPEM), "\n")[1]) {
		t.Error("the signing key appears in the build log")
	}
	if left, _ := filepath.Glob(filepath.Join(build.temp, "attest-build-key.*")); len(left) > 0 {
		t.Errorf("the key's temporary folder was not removed: %v", left)
	}
	for _, want := range []string{"### attest-build: build attested", res.Outputs["attestation"], "NOT VERIFIED", "hello.tar.gz", "TPM mode:    sim"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("build job summary lacks %q:\n%s", want, res.Summary)
		}
	}

	// The attestation, decoded independently of attest-build.
	data, err := os.ReadFile(artifact)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	stmts := readStatements(t, res.Outputs["attestation"])
	slsa, ok := stmts["https://slsa.dev/provenance/v1"]
	if !ok {
		t.Fatalf("no SLSA provenance statement among %v", keys(stmts))
	}
	tpmima, ok := stmts["https://github.com/attest-build/attest-build/predicates/tpm-ima/v0.1"]
	if !ok {
		t.Fatalf("no TPM/IMA statement among %v", keys(stmts))
	}
	for name, st := range stmts {
		if len(st.Subject) != 1 || st.Subject[0].Name != "dist/hello.tar.gz" || st.Subject[0].Digest["sha256"] != hex.EncodeToString(digest[:]) {
			t.Errorf("%s: subjects %+v, want dist/hello.tar.gz with sha256 %x", name, st.Subject, digest)
		}
	}
	var prov struct {
		BuildDefinition struct {
			InternalParameters struct {
				GitHub map[string]string `json:"github"`
			} `json:"internalParameters"`
			ResolvedDependencies []struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Builder  struct{ ID string } `json:"builder"`
			Metadata struct {
				InvocationID string `json:"invocationId"`
			} `json:"metadata"`
		} `json:"runDetails"`
	}
	if err := json.Unmarshal(slsa.Predicate, &prov); err != nil {
		t.Fatal(err)
	}
	env := build.env
	if deps := prov.BuildDefinition.ResolvedDependencies; len(deps) != 1 ||
		deps[0].URI != "git+"+env["GITHUB_SERVER_URL"]+"/"+env["GITHUB_REPOSITORY"]+"@"+env["GITHUB_REF"] ||
		deps[0].Digest["gitCommit"] != env["GITHUB_SHA"] {
		t.Errorf("resolvedDependencies %+v, want the GitHub repository at %s, commit %s", deps, env["GITHUB_REF"], env["GITHUB_SHA"])
	}
	wantRun := env["GITHUB_SERVER_URL"] + "/" + env["GITHUB_REPOSITORY"] + "/actions/runs/" + env["GITHUB_RUN_ID"] + "/attempts/" + env["GITHUB_RUN_ATTEMPT"]
	if got := prov.RunDetails.Metadata.InvocationID; got != wantRun {
		t.Errorf("invocationId %q, want %q", got, wantRun)
	}
	gh := prov.BuildDefinition.InternalParameters.GitHub
	if gh["workflowRef"] != env["GITHUB_WORKFLOW_REF"] || gh["runnerEnvironment"] != env["RUNNER_ENVIRONMENT"] || gh["eventName"] != env["GITHUB_EVENT_NAME"] {
		t.Errorf("internalParameters.github %v, want workflowRef %q, runnerEnvironment %q, eventName %q", gh,
			env["GITHUB_WORKFLOW_REF"], env["RUNNER_ENVIRONMENT"], env["GITHUB_EVENT_NAME"])
	}
	if id := prov.RunDetails.Builder.ID; !strings.Contains(id, "sim") {
		t.Errorf("builder.id %q does not name the simulator mode", id)
	}
	var pred struct {
		TPM struct{ Mode string } `json:"tpm"`
		IMA struct {
			Present bool   `json:"present"`
			Reason  string `json:"reason"`
		} `json:"ima"`
	}
	if err := json.Unmarshal(tpmima.Predicate, &pred); err != nil {
		t.Fatal(err)
	}
	if pred.TPM.Mode != "sim" || pred.IMA.Present || pred.IMA.Reason == "" {
		t.Errorf("TPM/IMA predicate: mode %q, ima present %v reason %q; want sim, absent with a reason", pred.TPM.Mode, pred.IMA.Present, pred.IMA.Reason)
	}

	// Deploy job: verify passes.
	policy := filepath.Join(repoRoot(t), "examples", "policy-sim.yaml")
	deploy := newRunner(t, ws)
	res = deploy.run(map[string]string{"mode": "verify", "artifacts": "hello/dist/hello.tar.gz", "policy": policy, "public-key": pubFile})
	if f := res.failedStep(); f != nil {
		t.Fatalf("deploy job failed at %q:\n%s", f.Name, res.log())
	}
	if res.Outputs["verdict"] != "pass" || !strings.Contains(res.Summary, "### attest-build verify: pass") {
		t.Errorf("verdict %q, summary:\n%s", res.Outputs["verdict"], res.Summary)
	}

	// The verify sub-action (attest-build/attest-build/verify@...) passes too.
	sub := newSubRunner(t, ws, "verify/action.yml")
	res = sub.run(map[string]string{"artifacts": "hello/dist/hello.tar.gz", "policy": policy, "public-key": pubFile})
	if f := res.failedStep(); f != nil || res.Outputs["verdict"] != "pass" {
		t.Fatalf("verify sub-action: verdict %q:\n%s", res.Outputs["verdict"], res.log())
	}

	// examples/deploy.sh, with the tpm2-tools cross-check, deploys it too.
	realtest.LookPath(t, "tpm2_checkquote", "tpm2-tools")
	realtest.LookPath(t, "jq", "jq")
	realtest.LookPath(t, "xxd", "xxd")
	deploySh := exec.Command(filepath.Join(repoRoot(t), "examples", "deploy.sh"), policy, pubFile, artifact)
	deploySh.Env = append(os.Environ(), "CROSSCHECK=1", "ATTEST_BUILD="+res.Outputs["bin"])
	if out, err := deploySh.CombinedOutput(); err != nil || !strings.Contains(string(out), "tpm2-tools: the end quote verifies") ||
		!strings.Contains(string(out), "deploying "+artifact) {
		t.Errorf("examples/deploy.sh: %v\n%s", err, out)
	}

	// Deploy job with a tampered artifact: fails, and says so in the summary.
	if err := os.WriteFile(artifact, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	deploy = newRunner(t, ws)
	res = deploy.run(map[string]string{"mode": "verify", "artifacts": "hello/dist/hello.tar.gz", "policy": policy, "public-key": pubFile})
	f := res.failedStep()
	if f == nil || f.Name != "Verify before deploy" || f.Exit != 1 {
		t.Fatalf("want the verify step to fail with status 1:\n%s", res.log())
	}
	if res.Outputs["verdict"] != "fail" || !strings.Contains(res.Summary, "### attest-build verify: FAIL (exit status 1)") ||
		!strings.Contains(res.Summary, "subjects") {
		t.Errorf("verdict %q, summary:\n%s", res.Outputs["verdict"], res.Summary)
	}
	if !strings.Contains(f.Log, "::error title=attest-build verify::verification failed") {
		t.Errorf("no error annotation in the verify step's log:\n%s", f.Log)
	}
	sub = newSubRunner(t, ws, "verify/action.yml")
	if res := sub.run(map[string]string{"artifacts": "hello/dist/hello.tar.gz", "policy": policy, "public-key": pubFile}); res.Outputs["verdict"] != "fail" || res.failedStep() == nil {
		t.Errorf("verify sub-action on a tampered artifact: verdict %q:\n%s", res.Outputs["verdict"], res.log())
	}
	deploySh = exec.Command(filepath.Join(repoRoot(t), "examples", "deploy.sh"), policy, pubFile, artifact)
	deploySh.Env = append(os.Environ(), "ATTEST_BUILD="+res.Outputs["bin"])
	if out, err := deploySh.CombinedOutput(); err == nil || strings.Contains(string(out), "deploying") || !strings.Contains(string(out), "refusing to deploy") {
		t.Errorf("examples/deploy.sh deployed a tampered artifact (err %v):\n%s", err, out)
	}
}

type statement struct {
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

func readStatements(t *testing.T, path string) map[string]statement {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]statement{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if env.PayloadType != "application/vnd.in-toto+json" {
			t.Fatalf("%s: payloadType %q", path, env.PayloadType)
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		var st statement
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		out[st.PredicateType] = st
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]statement) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// newSigningKey makes an ECDSA P-256 key pair as PEM (PKCS#8 private, PKIX
// public), as a user would store it in a secret.
func newSigningKey(t *testing.T) (priv, pub []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-R", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp -R %s %s: %v: %s", from, to, err, out)
	}
	for _, d := range []string{"build", "dist"} {
		if err := os.RemoveAll(filepath.Join(to, d)); err != nil {
			t.Fatal(err)
		}
	}
}
