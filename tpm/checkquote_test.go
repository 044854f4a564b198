package tpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/attest-build/attest-build/internal/realtest"
)

// writeTPM2ToolsPCRs writes PCR values in the file format tpm2_quote -o
// writes and tpm2_checkquote -f reads (see readTPM2ToolsPCRs).
func writeTPM2ToolsPCRs(t *testing.T, sel PCRSelection, values []PCRValue) []byte {
	t.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sel)))
	for i := 0; i < 16; i++ {
		var e [8]byte
		if i < len(sel) {
			alg, _, _ := bankAlg(sel[i].Bank)
			binary.LittleEndian.PutUint16(e[:], uint16(alg))
			e[2] = 3
			for _, j := range sel[i].Indices {
				e[3+j/8] |= 1 << (j % 8)
			}
		}
		b = append(b, e[:]...)
	}
	var lists [][]PCRValue
	for i := 0; i < len(values); i += 8 {
		lists = append(lists, values[i:min(i+8, len(values))])
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(lists)))
	for _, l := range lists {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(l)))
		for k := 0; k < 8; k++ {
			var d [66]byte
			if k < len(l) {
				binary.LittleEndian.PutUint16(d[:], uint16(len(l[k].Value)))
				copy(d[2:], l[k].Value)
			}
			b = append(b, d[:]...)
		}
	}
	if got := readTPM2ToolsPCRs(t, b); len(got) != len(values) {
		t.Fatalf("PCR file round trip: %d values, want %d", len(got), len(values))
	}
	return b
}

// TestQuoteChecksWithTPM2Tools has swtpm quote through this package and
// tpm2-tools' tpm2_checkquote verify the quote, nonce and PCR values; then
// a changed PCR value must make tpm2_checkquote fail too.
func TestQuoteChecksWithTPM2Tools(t *testing.T) {
	checkquote := realtest.LookPath(t, "tpm2_checkquote", "tpm2-tools")
	tp := openSwtpmT(t)
	for _, alg := range []AKAlg{AKECCP256, AKRSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			ak, err := tp.EnsureAK(AKOptions{Alg: alg})
			if err != nil {
				t.Fatal(err)
			}
			sel, err := ParsePCRSelection("sha256:0-10")
			if err != nil {
				t.Fatal(err)
			}
			nonce := sha256.Sum256([]byte("artifact " + string(alg)))
			q, err := tp.Quote(ak, sel, nonce[:])
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			write := func(name string, b []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			args := []string{"-u", write("ak.pem", ak.PEM()), "-m", write("quote.msg", q.Attest), "-s", write("quote.sig", q.Signature),
				"-g", "sha256", "-q", hex.EncodeToString(nonce[:])}
			run := func(pcrFile string) ([]byte, error) {
				return exec.Command(checkquote, append(args, "-f", pcrFile)...).CombinedOutput()
			}
			if out, err := run(write("pcrs.bin", writeTPM2ToolsPCRs(t, sel, q.PCRs))); err != nil {
				t.Fatalf("tpm2_checkquote rejected our quote: %v\n%s", err, bytes.TrimSpace(out))
			}
			bad := clonePCRs(q.PCRs)
			bad[3].Value[0] ^= 1
			if out, err := run(write("bad.bin", writeTPM2ToolsPCRs(t, sel, bad))); err == nil {
				t.Fatalf("tpm2_checkquote accepted a changed PCR 3: the check is not reaching the PCR digest\n%s", out)
			}
		})
	}
}
