package provtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
)

// IMARecord returns one binary_runtime_measurements record of template
// ima-ng for path with a file digest derived from it, and the digests the
// kernel extends PCR 10 with: the sha1 template hash and the sha256 of the
// template data (kernel 5.8 and later).
func IMARecord(path string) (rec []byte, sha1TH [20]byte, sha256TD [32]byte) {
	fd := sha256.Sum256([]byte("content of " + path))
	if path == "boot_aggregate" {
		// What the kernel logs on a TPM whose sha256 PCRs 0-9 are zero (the
		// simulator's and a fresh swtpm's), so that verify's boot_aggregate
		// check binds the log to the rig's boot.
		fd = sha256.Sum256(make([]byte, 10*sha256.Size))
	}
	var data []byte
	data = binary.LittleEndian.AppendUint32(data, uint32(len("sha256:")+1+len(fd)))
	data = append(data, "sha256:\x00"...)
	data = append(data, fd[:]...)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(path)+1))
	data = append(data, path...)
	data = append(data, 0)
	sha1TH = sha1.Sum(data)
	sha256TD = sha256.Sum256(data)
	rec = binary.LittleEndian.AppendUint32(rec, 10)
	rec = append(rec, sha1TH[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len("ima-ng")))
	rec = append(rec, "ima-ng"...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(data)))
	rec = append(rec, data...)
	return rec, sha1TH, sha256TD
}

// AppendIMA appends records for paths to the log file and calls extend with
// each record's PCR 10 digests, in order, as the kernel does.
func AppendIMA(t *testing.T, log string, paths []string, extend func(sha1TH [20]byte, sha256TD [32]byte)) {
	t.Helper()
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, p := range paths {
		rec, th, td := IMARecord(p)
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if extend != nil {
			extend(th, td)
		}
	}
}

// TestSigner generates an ECDSA P-256 key pair in a temporary folder.
func TestSigner(t *testing.T) (*provenance.Signer, string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "signing")
	s, err := provenance.GenerateKey(prefix, provenance.KeyECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, prefix
}

type Statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// ReadAttestation verifies every envelope of an .intoto.jsonl file with the
// public key at pubPath and returns the statements.
func ReadAttestation(t *testing.T, path, pubPath string) []Statement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := provenance.LoadPublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := provenance.NewEnvelopeVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	var out []Statement
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var env dsse.Envelope
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if env.PayloadType != predicates.PayloadType {
			t.Fatalf("line %d: payloadType %q", i+1, env.PayloadType)
		}
		if len(env.Signatures) != 1 || env.Signatures[0].KeyID != provenance.EnvelopeKeyID {
			t.Fatalf("line %d: signatures %+v, want one with keyid %q", i+1, env.Signatures, provenance.EnvelopeKeyID)
		}
		if _, err := ev.Verify(context.Background(), &env); err != nil {
			t.Fatalf("line %d: envelope does not verify: %v", i+1, err)
		}
		payload, err := env.DecodeB64Payload()
		if err != nil {
			t.Fatal(err)
		}
		var st Statement
		if err := json.Unmarshal(payload, &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// TPMPredicate returns the TPM/IMA predicate of the statements, validated
// against the JSON Schema by the caller.
func TPMPredicate(t *testing.T, sts []Statement) (*predicates.TPMIMA, json.RawMessage) {
	t.Helper()
	for _, st := range sts {
		if st.PredicateType == predicates.TPMIMAType {
			var p predicates.TPMIMA
			if err := json.Unmarshal(st.Predicate, &p); err != nil {
				t.Fatal(err)
			}
			return &p, st.Predicate
		}
	}
	t.Fatalf("no %s statement", predicates.TPMIMAType)
	return nil, nil
}

// BuildGrowingLog returns the argv of a build that signals it has started,
// waits while the test appends the records of during to log (calling extend
// for each, as the kernel would while the build runs), and then runs script.
// Files the two sides signal with live in flags.
func BuildGrowingLog(t *testing.T, flags, log string, during []string, extend func(sha1TH [20]byte, sha256TD [32]byte), script string) []string {
	t.Helper()
	started, proceed := filepath.Join(flags, "started"), filepath.Join(flags, "go")
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(started); err == nil {
				AppendIMA(t, log, during, extend)
				os.WriteFile(proceed, nil, 0o644)
				return
			}
		}
	}()
	return []string{"sh", "-c", `touch "$1"; while [ ! -e "$2" ]; do sleep 0.01; done; ` + script, "sh", started, proceed}
}
