package bootlog

import "testing"

// BenchmarkParseVerify parses the real Secure Boot log (47 events, both
// banks), replays both banks to PCRs 0-9 and extracts the state: what verify
// does once per quote.
func BenchmarkParseVerify(b *testing.B) {
	data := readFile(b, "testdata/ovmf-sb-shim/binary_bios_measurements")
	pcrs := readPCRs(b, "testdata/ovmf-sb-shim/pcrs.txt")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Verify(pcrs); err != nil {
			b.Fatal(err)
		}
	}
}
