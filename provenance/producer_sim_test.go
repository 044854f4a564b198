//go:build simulator && cgo

package provenance_test

import (
	"bytes"
	"context"
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

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
	"github.com/attest-build/attest-build/tpm"
)

// simAttest runs Attest on a fresh simulator with a new key; it returns the
// result (nil on error), the error, and the public key's path.
func simAttest(t *testing.T, cmd provenance.Command, artifacts ...string) (*provenance.Result, error, string) {
	t.Helper()
	signer, keyPrefix := provtest.TestSigner(t)
	tp, sel := provtest.OpenSimulator(t, tpm.DefaultPCRSelection)
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	res, err := provenance.Attest(context.Background(), provenance.Options{
		Command: cmd, Artifacts: artifacts, Signer: signer, TPM: provenance.SharedTPM(tp, sel, tpm.AKOptions{}),
	})
	return res, err, keyPrefix + ".pub"
}

// The SLSA source outside CI is what git said before the build ran: a build
// that rewrites the remote URL, the branch and HEAD does not get its choice
// into the statement, which says where the source came from. git itself
// never sees the signing key's variables.
func TestAttestSourceReadBeforeBuild(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "topic")
	git("remote", "add", "origin", "https://example.com/real.git")
	git("commit", "-q", "--allow-empty", "-m", "real")
	real := git("rev-parse", "HEAD")

	// Outside CI: none of the runner variables attest-build reads first.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "CI_") {
			env = append(env, kv)
		}
	}
	const rewrite = `git remote set-url origin https://example.com/blessed.git &&
git checkout -q -b master &&
git -c user.name=x -c user.email=x@x commit -q --allow-empty -m forged &&
echo out > out.bin`
	res, err, pub := simAttest(t, provenance.Command{Argv: []string{"sh", "-c", rewrite}, Dir: dir, Env: env}, "out.bin")
	if err != nil {
		t.Fatal(err)
	}
	if forged := git("rev-parse", "HEAD"); forged == real {
		t.Fatal("the build did not commit")
	}
	var slsa struct {
		BuildDefinition struct {
			ResolvedDependencies []struct {
				URI         string            `json:"uri"`
				Digest      map[string]string `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
	}
	for _, st := range provtest.ReadAttestation(t, res.Output, pub) {
		if st.PredicateType == predicates.SLSAProvenanceType {
			if err := json.Unmarshal(st.Predicate, &slsa); err != nil {
				t.Fatal(err)
			}
		}
	}
	deps := slsa.BuildDefinition.ResolvedDependencies
	if len(deps) != 1 || deps[0].URI != "git+https://example.com/real.git@refs/heads/topic" || deps[0].Digest["gitCommit"] != real ||
		deps[0].Annotations["sourceFrom"] != provenance.SourceFromGit {
		t.Errorf("resolvedDependencies %+v, want git+https://example.com/real.git@refs/heads/topic at %s, sourceFrom %s", deps, real, provenance.SourceFromGit)
	}
}

// A process the build leaves running (here one that keeps rewriting the
// artifact from a session of its own) is ended before the subjects are
// hashed: the signed digest is the file's content once Attest returns,
// and the process is reported. With LeftoversRefuse nothing is attested.
func TestAttestEndsLeftoversBeforeHashing(t *testing.T) {
	const build = `echo good > out.bin; setsid sh -c 'while :; do echo evil > out.bin.tmp; mv out.bin.tmp out.bin; done' </dev/null >/dev/null 2>&1 & sleep 0.1`
	t.Run("end", func(t *testing.T) {
		dir := t.TempDir()
		var stderr bytes.Buffer
		res, err, _ := simAttest(t, provenance.Command{Argv: []string{"sh", "-c", build}, Dir: dir, Stderr: &stderr}, "out.bin")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Run.Ended) == 0 || !strings.Contains(stderr.String(), "ended them before hashing") {
			t.Errorf("no leftover reported: ended %v, stderr %q", res.Run.Ended, stderr.String())
		}
		data, err := os.ReadFile(filepath.Join(dir, "out.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); res.Subjects[0].SHA256 != sum {
			t.Errorf("subject sha256 %s, but out.bin (%q) is %s after Attest returned", hex.EncodeToString(res.Subjects[0].SHA256[:]), data, hex.EncodeToString(sum[:]))
		}
	})
	t.Run("refuse", func(t *testing.T) {
		dir := t.TempDir()
		_, err, _ := simAttest(t, provenance.Command{Argv: []string{"sh", "-c", build}, Dir: dir, Leftovers: provenance.LeftoversRefuse}, "out.bin")
		var le *provenance.LeftoverError
		if !errors.As(err, &le) || len(le.Ended) == 0 {
			t.Fatalf("err %v, want a *LeftoverError", err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*.intoto.jsonl")); len(left) > 0 {
			t.Errorf("attested despite LeftoversRefuse: %v", left)
		}
	})
}

// A relative output (as the Action passed it) whose directory leads out of
// the working directory is refused, as the default output always was.
func TestAttestRelativeOutputStaysInside(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	signer, _ := provtest.TestSigner(t)
	tp, sel := provtest.OpenSimulator(t, tpm.DefaultPCRSelection)
	_, err := provenance.Attest(context.Background(), provenance.Options{
		Command:   provenance.Command{Argv: []string{"sh", "-c", "echo x > out.bin; ln -s " + outside + " dist"}, Dir: dir, Stdout: io.Discard, Stderr: io.Discard},
		Artifacts: []string{"out.bin"}, Output: "dist/out.bin.intoto.jsonl",
		Signer: signer, TPM: provenance.SharedTPM(tp, sel, tpm.AKOptions{}),
	})
	if !errors.Is(err, provenance.ErrOutsideWorkDir) {
		t.Errorf("err %v, want ErrOutsideWorkDir", err)
	}
	if left, _ := filepath.Glob(filepath.Join(outside, "*")); len(left) > 0 {
		t.Errorf("written outside the working directory: %v", left)
	}
}
