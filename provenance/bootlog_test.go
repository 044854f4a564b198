package provenance_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
)

// bootQuote returns a quote (PCR values only) holding PCRs 0-10 of both
// banks from a pcrs.txt of bootlog/testdata ("BANK INDEX HEX").
func bootQuote(t testing.TB, pcrsTxt string) predicates.Quote {
	t.Helper()
	f, err := os.Open(pcrsTxt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var q predicates.Quote
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			continue
		}
		i, err := strconv.Atoi(fs[1])
		if err != nil {
			t.Fatal(err)
		}
		if i <= 10 {
			q.PCRs = append(q.PCRs, predicates.PCR{Bank: fs[0], Index: i, Value: strings.ToLower(fs[2])})
		}
	}
	return q
}

// TestCollectBootLog carries the real Secure Boot log when it replays to
// the end quote, and records why not otherwise.
func TestCollectBootLog(t *testing.T) {
	dir := filepath.Join("..", "bootlog", "testdata", "ovmf-sb-shim")
	logPath := filepath.Join(dir, "binary_bios_measurements")
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	q := bootQuote(t, filepath.Join(dir, "pcrs.txt"))
	b, err := provenance.CollectBootLog(logPath, q)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if !b.Present || b.Encoding != predicates.BootLogEncoding || b.SHA256 != hex.EncodeToString(sum[:]) || b.Events != 46 {
		t.Fatalf("carried boot log %+v: want present, %s, sha256 %x, 46 events", b, predicates.BootLogEncoding, sum)
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := d.DecodeAll(b.Data, nil); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("the carried data does not decompress to the log (%v)", err)
	}

	other := t.TempDir()
	garbage := filepath.Join(other, "garbage")
	if err := os.WriteFile(garbage, []byte("not an event log at all, but long enough to look at"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := bootQuote(t, filepath.Join(dir, "pcrs.txt"))
	for i, p := range changed.PCRs {
		if p.Bank == "sha256" && p.Index == 4 {
			changed.PCRs[i].Value = strings.Repeat("00", 32)
		}
	}
	var only10 predicates.Quote
	for _, p := range q.PCRs {
		if p.Index == 10 {
			only10.PCRs = append(only10.PCRs, p)
		}
	}
	tests := []struct {
		name, path string
		quote      predicates.Quote
		reason     string
	}{
		{"missing", filepath.Join(other, "none"), q, "no firmware event log at"},
		{"not a log", garbage, q, "not a TCG firmware event log"},
		{"another machine's PCR 4", logPath, changed, "sha256 PCR 4: quoted 0000"},
		{"PCRs 0-9 not quoted", logPath, only10, "boot PCR not quoted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := provenance.CollectBootLog(tc.path, tc.quote)
			if err != nil {
				t.Fatal(err)
			}
			if b.Present || b.Data != nil || !strings.Contains(b.Reason, tc.reason) {
				t.Errorf("boot log %+v: want absent, reason containing %q", b, tc.reason)
			}
		})
	}
}
