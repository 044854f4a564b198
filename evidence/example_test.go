package evidence_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/attest-build/attest-build/evidence"
)

// The log and PCR values below come from a real Debian 12 kernel with swtpm
// (testdata/ima/README.md).
const (
	exampleLog  = "../testdata/ima/vm-debian12-swtpm.bin"
	examplePCRs = "../testdata/ima/vm-debian12-swtpm.pcrs"
)

// sysfsPCR returns a PCR value recorded in examplePCRs ("bank index HEX" lines).
func sysfsPCR(bank string, index string) []byte {
	f, err := os.Open(examplePCRs)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) == 3 && fs[0] == bank && fs[1] == index {
			v, err := hex.DecodeString(fs[2])
			if err != nil {
				log.Fatal(err)
			}
			return v
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	log.Fatalf("%s: no %s PCR %s", examplePCRs, bank, index)
	return nil
}

// Replay the whole log in the sha256 bank and compare the result with PCR 10
// as sysfs reported it after the log was read.
func ExampleReplay() {
	f, err := os.Open(exampleLog)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := evidence.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	res, err := evidence.Replay(r, evidence.SHA256, 10)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s PCR %d = %x\n", res.Bank, res.PCR, res.Value)
	fmt.Println("entries:", res.Entries, "extended:", res.Extended)
	fmt.Println("violations:", res.Violations, "mismatches:", res.Mismatches)
	fmt.Println("equals sysfs PCR 10:", bytes.Equal(res.Value, sysfsPCR("sha256", "10")))
	// Output:
	// sha256 PCR 10 = 4af79a5e79a3e06675d7785b3be6e45537d47adb0a9b3042f6e71e6fb9c9347d
	// entries: 49 extended: 49
	// violations: 1 mismatches: 0
	// equals sysfs PCR 10: true
}

// A quote taken while the log grows covers only a prefix of it. Here the
// mid-log PCR value is made by replaying the first 20 entries with a
// Replayer; MatchPrefix finds that prefix again, and the value sysfs reported
// after the log was read covers the whole log.
func ExampleMatchPrefix() {
	open := func() (*evidence.Reader, func() error) {
		f, err := os.Open(exampleLog)
		if err != nil {
			log.Fatal(err)
		}
		r, err := evidence.NewReader(f)
		if err != nil {
			log.Fatal(err)
		}
		return r, f.Close
	}

	r, closeLog := open()
	rp := evidence.NewReplayer(evidence.SHA256, 10)
	for range 20 {
		e, err := r.Next()
		if err != nil {
			log.Fatal(err)
		}
		if err := rp.Extend(e); err != nil {
			log.Fatal(err)
		}
	}
	midLog := rp.Value()
	closeLog()

	for _, want := range []struct {
		name  string
		value []byte
	}{
		{"mid-log value", midLog},
		{"sysfs PCR 10", sysfsPCR("sha256", "10")},
		{"sysfs PCR 0", sysfsPCR("sha256", "0")}, // firmware's PCR: no IMA prefix reaches it
	} {
		r, closeLog := open()
		n, err := evidence.MatchPrefix(r, evidence.SHA256, 10, want.value)
		closeLog()
		var nm *evidence.NoPrefixMatchError
		switch {
		case errors.As(err, &nm):
			fmt.Printf("%s: no prefix matches (%d entries scanned)\n", want.name, nm.Entries)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%s: the first %d entries\n", want.name, n)
		}
	}
	// Output:
	// mid-log value: the first 20 entries
	// sysfs PCR 10: the first 49 entries
	// sysfs PCR 0: no prefix matches (49 entries scanned)
}

// Iterate over the entries of a log. NewReader detects the form (binary,
// ascii or gzip of either); nothing read is trusted until a replay reaches a
// quoted PCR value.
func ExampleNewReader() {
	f, err := os.Open(exampleLog)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := evidence.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("format:", r.Format(), "compressed:", r.Compressed())
	n := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if e.Index < 4 || e.Violation() {
			fmt.Printf("%d: pcr %d %s %s:%x %s violation=%v\n", e.Index, e.PCR, e.TemplateName,
				e.FileDigestAlg, e.FileDigest[:4], e.Path, e.Violation())
		}
		n++
	}
	fmt.Println("entries:", n)
	// Output:
	// format: binary compressed: false
	// 0: pcr 10 ima-ng sha256:6aed6869 boot_aggregate violation=false
	// 1: pcr 10 ima-ng sha256:26022f36 /init violation=false
	// 2: pcr 10 ima-ng sha256:3d9f2889 /bin/busybox violation=false
	// 3: pcr 10 ima-ng sha256:d4286074 /work/src/gen.sh violation=false
	// 8: pcr 10 ima-ng sha256:00000000 /work/out/build.log violation=true
	// entries: 49
}
