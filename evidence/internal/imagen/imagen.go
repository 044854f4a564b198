// Package imagen writes synthetic IMA measurement logs for benchmarks: an
// ima-ng log (sha256 file digests, paths shaped like a Debian system's)
// with a boot_aggregate first (that of a TPM whose PCRs 0-9 are zero, as a
// simulator's are) and a violation now and then, and the PCR 10
// values of the sha1 and sha256 banks it replays to.
//
// It computes those values itself, independently of package evidence, so
// a benchmark that replays the log also cross-checks the replay.
package imagen

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Options control the generated log.
type Options struct {
	Entries        int    // number of entries, boot_aggregate included
	Seed           uint64 // PRNG seed; the same seed gives the same log
	ViolationEvery int    // one violation every this many entries (0: none)
}

// PCRs are the PCR 10 values a log replays to.
type PCRs struct {
	SHA1   [sha1.Size]byte
	SHA256 [sha256.Size]byte
}

var (
	dirs = []string{
		"/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/python3/dist-packages",
		"/usr/libexec/gcc/x86_64-linux-gnu/12", "/usr/lib/gcc/x86_64-linux-gnu/12", "/usr/share/perl5",
		"/usr/lib/systemd", "/etc", "/usr/local/go/pkg/tool/linux_amd64", "/home/builder/.cache/go-build",
		"/usr/lib/x86_64-linux-gnu/perl-base", "/var/lib/dpkg/info", "/usr/include/linux",
	}
	stems = []string{
		"libc", "libssl", "libcrypto", "ld-linux-x86-64", "cc1", "collect2", "make", "bash", "python3.11",
		"libstdc++", "libz", "liblzma", "libpcre2-8", "libselinux", "as", "ld.bfd", "git", "tar", "gzip",
		"compile", "link", "asm", "vet", "systemd-journald", "sshd", "sudo", "libgcc_s", "cc1plus",
	}
	exts = []string{"", ".so.6", ".so.3", ".so.1", ".so", ".py", ".pm", ".h", ".a", "-a1b2c3d4e5f6", ".conf"}
)

// Write writes a binary_runtime_measurements log (little-endian, sha1
// template hashes) to w and returns the PCR 10 values it replays to by the
// rule of kernel 5.8 and later, violations extended as all 0xff.
func Write(w io.Writer, o Options) (PCRs, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	var pcr1 [sha1.Size]byte
	var pcr256 [sha256.Size]byte
	var data, rec []byte
	var fileDigest [sha256.Size]byte
	var ext1 [2 * sha1.Size]byte
	var ext256 [2 * sha256.Size]byte
	for i := range o.Entries {
		violation := o.ViolationEvery > 0 && i > 0 && i%o.ViolationEvery == 0
		path := "boot_aggregate"
		if i > 0 {
			path = randomPath(rng, i)
		}
		for j := 0; j < len(fileDigest); j += 8 {
			binary.LittleEndian.PutUint64(fileDigest[j:], rng.Uint64())
		}
		if violation {
			clear(fileDigest[:])
		}
		if i == 0 {
			// The kernel's boot_aggregate on a TPM whose PCRs 0-9 are zero (a
			// simulator or a fresh swtpm): sha256 of ten zero PCR values.
			fileDigest = sha256.Sum256(make([]byte, 10*sha256.Size))
		}
		// template data: u32 len | "sha256:" NUL digest | u32 len | path NUL
		data = data[:0]
		data = binary.LittleEndian.AppendUint32(data, uint32(len("sha256:")+1+len(fileDigest)))
		data = append(data, "sha256:\x00"...)
		data = append(data, fileDigest[:]...)
		data = binary.LittleEndian.AppendUint32(data, uint32(len(path)+1))
		data = append(data, path...)
		data = append(data, 0)

		th := sha1.Sum(data)
		d256 := sha256.Sum256(data)
		if violation {
			th = [sha1.Size]byte{}
			for j := range th {
				th[j] = 0xff
			}
			for j := range d256 {
				d256[j] = 0xff
			}
		}
		copy(ext1[:], pcr1[:])
		copy(ext1[sha1.Size:], th[:])
		pcr1 = sha1.Sum(ext1[:])
		copy(ext256[:], pcr256[:])
		copy(ext256[sha256.Size:], d256[:])
		pcr256 = sha256.Sum256(ext256[:])
		if violation {
			th = [sha1.Size]byte{} // logged as all zero
		}

		rec = rec[:0]
		rec = binary.LittleEndian.AppendUint32(rec, 10)
		rec = append(rec, th[:]...)
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len("ima-ng")))
		rec = append(rec, "ima-ng"...)
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(data)))
		rec = append(rec, data...)
		if _, err := bw.Write(rec); err != nil {
			return PCRs{}, fmt.Errorf("writing synthetic log: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return PCRs{}, fmt.Errorf("writing synthetic log: %w", err)
	}
	return PCRs{SHA1: pcr1, SHA256: pcr256}, nil
}

func randomPath(rng *rand.Rand, i int) string {
	var b strings.Builder
	b.WriteString(dirs[rng.IntN(len(dirs))])
	if rng.IntN(4) == 0 {
		fmt.Fprintf(&b, "/pkg%03d", rng.IntN(500))
	}
	b.WriteByte('/')
	b.WriteString(stems[rng.IntN(len(stems))])
	fmt.Fprintf(&b, "-%d", i)
	b.WriteString(exts[rng.IntN(len(exts))])
	return b.String()
}

// WriteEvmctlPCRs writes a PCR file in the form evmctl ima_measurement
// --pcrs ALG,FILE reads: 24 lines "PCR-NN: HEX", PCR 10 set to value and
// the others zero.
func WriteEvmctlPCRs(w io.Writer, value []byte) error {
	zero := strings.Repeat("00", len(value))
	for i := range 24 {
		v := zero
		if i == 10 {
			v = fmt.Sprintf("%x", value)
		}
		if _, err := fmt.Fprintf(w, "PCR-%02d: %s\n", i, v); err != nil {
			return fmt.Errorf("writing PCR file: %w", err)
		}
	}
	return nil
}
