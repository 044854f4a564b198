package action_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
	"github.com/attest-build/attest-build/provenance"
)

// The build the action runs never sees the signing key or its password: not
// in its environment, nor in attest-build's argv (its parent's, which any
// user can read with ps). Both ways of giving the key: the `key` and
// `key-password` inputs, and ATTEST_BUILD_KEY / ATTEST_BUILD_KEY_PASSWORD
// set for the whole job.
func TestActionBuildSeesNoKey(t *testing.T) {
	realtest.LookPath(t, "gcc", "gcc") // tpm: sim is built with cgo
	const password = "pw-5c1d-not-for-the-build"
	prefix := filepath.Join(t.TempDir(), "signing")
	if _, err := provenance.GenerateKey(prefix, provenance.KeyECDSAP256, []byte(password)); err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	const command = `env > build.env; tr '\0' ' ' < /proc/$PPID/cmdline > parent.argv; echo x > out.bin`
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		jobEnv map[string]string
	}{
		{"inputs", map[string]string{"key": string(keyPEM), "key-password": password}, nil},
		{"job environment", map[string]string{}, map[string]string{"ATTEST_BUILD_KEY": string(keyPEM), "ATTEST_BUILD_KEY_PASSWORD": password}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := t.TempDir()
			r := newRunner(t, ws)
			for k, v := range tc.jobEnv {
				r.env[k] = v
			}
			inputs := map[string]string{"command": command, "artifacts": "out.bin", "tpm": "sim"}
			for k, v := range tc.inputs {
				inputs[k] = v
			}
			res := r.run(inputs)
			if f := res.failedStep(); f != nil {
				t.Fatalf("build job failed at %q:\n%s", f.Name, res.log())
			}
			if _, err := os.Stat(res.Outputs["attestation"]); err != nil || filepath.Base(res.Outputs["attestation"]) != "out.bin.intoto.jsonl" {
				t.Fatalf("no attestation: %v\n%s", err, res.log())
			}
			env, err := os.ReadFile(filepath.Join(ws, "build.env"))
			if err != nil {
				t.Fatal(err)
			}
			argv, err := os.ReadFile(filepath.Join(ws, "parent.argv"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(argv), "attest-build") || !strings.Contains(string(env), "GITHUB_SHA=") {
				t.Fatalf("the build did not record its environment and its parent's argv:\n%s\n%s", env, argv)
			}
			for _, name := range []string{"INPUT_KEY=", "INPUT_KEY_PASSWORD=", "INPUT_KEY-PASSWORD=", "ATTEST_BUILD_KEY=", "ATTEST_BUILD_KEY_PASSWORD="} {
				if strings.Contains(string(env), name) {
					t.Errorf("the build's environment holds %s", name)
				}
			}
			for _, secret := range append(strings.Split(strings.TrimSpace(string(keyPEM)), "\n")[1:3], password) {
				for what, data := range map[string]string{"environment": string(env), "parent's argv": string(argv), "job log": res.log()} {
					if strings.Contains(data, secret) {
						t.Errorf("the build's %s holds the secret %q", what, secret)
					}
				}
			}
		})
	}
}
