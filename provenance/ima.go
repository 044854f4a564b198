package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
)

// ErrIMAWindow reports an IMA log that does not agree with the quotes: no
// prefix of it replays to a quoted PCR 10 value.
var ErrIMAWindow = errors.New("the IMA log does not match the quoted PCR 10")

// CollectIMA reads the IMA log at path (binary_runtime_measurements form)
// after the end quote and fixes the build's window by the quotes, not by
// file offsets: the start count is the prefix of the log that replays (in
// bank, PCR 10) to startPCR, the end count the prefix that replays to endPCR
// (evidence.MatchPrefixes, one pass). The predicate carries the exact bytes
// of the first end-count entries, zstd-compressed, and the window's entries
// decoded for readers.
//
// A log that does not exist (no IMA in the kernel, securityfs not mounted)
// gives ima.present=false with the reason; a log that matches neither value
// is an error wrapping ErrIMAWindow.
func CollectIMA(path, bank string, startPCR, endPCR []byte) (*predicates.IMA, error) {
	ima, _, err := collectIMA(path, bank, startPCR, endPCR, nil)
	return ima, err
}

// collectIMA is CollectIMA; it also returns the carried log's uncompressed
// bytes (nil when the log is absent). With a baseline, only the log after
// the baseline's position is read (from its byte offset) and carried: the
// prefixes are matched from the baseline's PCR value, indexes counted from
// its position, and the predicate names it (ima.baseline).
func collectIMA(path, bank string, startPCR, endPCR []byte, base *BaselineRef) (*predicates.IMA, []byte, error) {
	data, err := readIMALog(path, base)
	if errors.Is(err, fs.ErrNotExist) {
		return &predicates.IMA{Present: false, Reason: fmt.Sprintf("no IMA measurement log at %s (kernel without IMA, or securityfs not mounted)", path)}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the IMA log: %w", err)
	}
	b, err := evidence.ParseBank(bank)
	if err != nil {
		return nil, nil, fmt.Errorf("IMA log bank: %w", err)
	}
	first := 0
	var readOpts []evidence.Option
	var replayOpts []evidence.ReplayOption
	if base != nil {
		if base.Bank != bank {
			return nil, nil, fmt.Errorf("%w: the baseline %s is of bank %s, the quotes' IMA bank is %s", ErrBaselineMismatch, base.Path, base.Bank, bank)
		}
		first = base.Entries
		readOpts = append(readOpts, evidence.WithFirstIndex(first))
		replayOpts = append(replayOpts, evidence.WithInitialValue(base.PCRValue))
	}
	r, err := evidence.NewReader(bytes.NewReader(data), readOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the IMA log %s: %w", path, err)
	}
	if r.Format() != evidence.FormatBinary || r.Compressed() {
		return nil, nil, fmt.Errorf("reading the IMA log %s: want the kernel's binary_runtime_measurements form, found %s (compressed %t)", path, r.Format(), r.Compressed())
	}
	counts, err := evidence.MatchPrefixes(r, b, IMAPCR, [][]byte{startPCR, endPCR}, replayOpts...)
	if err != nil {
		if errors.Is(err, evidence.ErrNoPrefixMatch) && base != nil {
			return nil, nil, fmt.Errorf("%w: the log after the baseline %s (entry %d, byte %d) does not replay from its PCR %d %x to the quoted start %x, end %x: %w", ErrBaselineMismatch, base.Path, base.Entries, base.LogBytes, IMAPCR, base.PCRValue, startPCR, endPCR, err)
		}
		if errors.Is(err, evidence.ErrNoPrefixMatch) {
			return nil, nil, fmt.Errorf("%w: %s, PCR %d start %x, end %x: %w", ErrIMAWindow, path, IMAPCR, startPCR, endPCR, err)
		}
		return nil, nil, fmt.Errorf("matching the IMA log %s to the quotes: %w", path, err)
	}
	start, end := counts[0], counts[1]
	if end == 0 && len(data) > 0 && base == nil {
		// The kernel extends PCR 10 with the log's first entry (the
		// boot_aggregate) before anything can quote it: a PCR 10 still at
		// its initial value beside a log with entries was never extended
		// by this kernel.
		return nil, nil, fmt.Errorf("%w: the quoted PCR %d is its initial value (%x) but %s has entries: the kernel that wrote the log never extended this TPM's PCR %d (--tpm sim or an swtpm with the machine's log?)",
			ErrIMAWindow, IMAPCR, endPCR, path, IMAPCR)
	}
	if end < start {
		return nil, nil, fmt.Errorf("%w: the end quote's PCR %d matches %d entries of %s, fewer than the start quote's %d", ErrIMAWindow, IMAPCR, end, path, start)
	}

	// Second pass: the byte length of the first end entries, the template,
	// and the window's entries.
	r, err = evidence.NewReader(bytes.NewReader(data), readOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the IMA log %s: %w", path, err)
	}
	window := &predicates.Window{Start: first + start, End: first + end}
	if base == nil {
		window.Entries = make([]predicates.WindowEntry, 0, end-start)
	}
	var size int64
	var template predicates.LogTemplate
	for i := 0; i < end; i++ {
		e, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, fmt.Errorf("reading the IMA log %s, entry %d: %w", path, first+i, err)
		}
		size = e.Offset + int64(e.Len)
		template.Add(e.TemplateName)
		if i >= start && base == nil { // no decoded entries beside a baseline: the attestation stays small
			window.Entries = append(window.Entries, predicates.WindowEntryOf(e))
		}
	}
	raw := data[:size]
	sum := sha256.Sum256(raw)
	compressed, err := compressLog(raw)
	if err != nil {
		return nil, nil, err
	}
	ima := &predicates.IMA{
		Present:  true,
		PCR:      IMAPCR,
		Bank:     bank,
		Template: template.String(),
		Log: &predicates.IMALog{
			Encoding: predicates.IMALogEncoding,
			First:    first,
			Entries:  end,
			SHA256:   hex.EncodeToString(sum[:]),
			Data:     compressed,
		},
		Window: window,
	}
	if base != nil {
		ima.Baseline = &predicates.IMABaseline{Digest: base.Digest, Entries: base.Entries, PCRValue: hex.EncodeToString(base.PCRValue)}
	}
	return ima, raw, nil
}

// readIMALog reads the IMA log, or with a baseline the log from the
// baseline's byte offset on: the bytes before it are the baseline's, and
// are neither read nor parsed (the kernel's seq_file seeks by walking its
// list, which costs far less than parsing).
func readIMALog(path string, base *BaselineRef) ([]byte, error) {
	if base == nil {
		return os.ReadFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(base.LogBytes, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seeking to the baseline's end (byte %d): %w", base.LogBytes, err)
	}
	return io.ReadAll(f)
}

// logWindow is the zstd window the carried log is compressed with: the
// verifier's decoder allocates about this much, and on IMA logs (digests
// that do not compress, paths repeated nearby) a larger one gains nothing:
// 8 MiB gave the benchmark log 0.002 % less size, 14 % slower decoding and
// 7 MiB more memory (docs/benchmarks.md). evidence.MaxZstdWindow is what a
// verifier accepts.
const logWindow = 1 << 20

// compressLog compresses the carried log as predicates.IMALogEncoding says:
// one zstd frame with its checksum. zstd, not gzip: every verification
// decompresses the log, and zstd does it about 4 times as fast at a
// similar size (docs/benchmarks.md).
func compressLog(raw []byte) ([]byte, error) {
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(logWindow), zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("compressing a log: %w", err)
	}
	defer zw.Close()
	return zw.EncodeAll(raw, make([]byte, 0, len(raw)/2)), nil
}
