package bootlog

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/google/go-attestation/attest"

	"github.com/attest-build/attest-build/evidence"
)

// MaxLogSize bounds the firmware event logs Parse accepts. Real logs are a
// few to a few hundred KiB (a UEFI machine with large db/dbx and many option
// ROMs stays under 1 MiB).
const MaxLogSize = 8 << 20

// BootPCRs are the PCRs the firmware and boot loaders extend and IMA's
// boot_aggregate covers: 0-9.
var BootPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}

// Log is a parsed firmware event log. Nothing in it is trusted until Verify
// replays it to quoted PCR values.
type Log struct {
	el *attest.EventLog
	// numberBase is added to an event's position to number it as
	// tpm2_eventlog does (the Spec ID event of a crypto-agile log is 0).
	numberBase int
	// byBank holds the events with their digests in each bank the log
	// carries (attest.EventLog.Events copies them on every call).
	byBank map[evidence.Bank][]attest.Event
}

// Parse parses a TCG firmware event log: the TPM 2.0 crypto-agile form
// (binary_bios_measurements of a TPM 2.0 machine) or the SHA-1 form. It
// checks the structure only; see Verify.
func Parse(data []byte) (l *Log, err error) {
	if len(data) > MaxLogSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxLogSize)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrParse)
	}
	el, err := attest.ParseEventLog(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParse, err)
	}
	l = &Log{el: el, byBank: map[evidence.Bank][]attest.Event{}}
	if slices.Equal(el.Algs, []attest.HashAlg{attest.HashSHA1}) && !isAgile(data) {
		l.numberBase = 0
	} else {
		l.numberBase = 1
	}
	for _, b := range l.Banks() {
		l.byBank[b] = el.Events(attest.HashAlg(b))
	}
	return l, nil
}

// isAgile reports whether the log starts with a Spec ID Event03 (crypto-agile).
func isAgile(data []byte) bool {
	return bytes.Contains(data[:min(len(data), 64)], []byte("Spec ID Event03"))
}

// Banks returns the PCR banks the log carries digests for, each once.
func (l *Log) Banks() []evidence.Bank {
	var out []evidence.Bank
	for _, a := range l.el.Algs {
		if b := evidence.Bank(a); b.Valid() && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// Events returns the number of events in the log (the Spec ID event not
// counted).
func (l *Log) Events() int { return len(l.el.Events(attest.HashSHA1)) }

// PCRValues are quoted PCR values by bank and index.
type PCRValues map[evidence.Bank]map[int][]byte

// Verify replays the log to the quoted values in pcrs and, when every check
// passes, returns the boot state the replayed events record. The caller
// must have verified the quote that pcrs come from. Checks, in order:
//
//  1. pcrs holds PCRs 0-9 in at least one bank (ErrNotQuoted);
//  2. for every bank in pcrs, and every PCR 0-9 quoted in it, the log's
//     events for that PCR replay to the quoted value: each event carries a
//     digest of that bank, the first extends the reset value (zeros; for PCR
//     0 the locality of a StartupLocality event), and a PCR without events
//     must hold the reset value (*ReplayError, naming the bank and PCR);
//  3. the boot state is read from the events of PCRs 0-9 in the first of
//     sha256, sha384, sha512, sha1 that pcrs holds in full (Extract).
//
// Events for PCRs above 9 (e.g. shim's MokList in PCR 14) are not replayed
// and not used.
func (l *Log) Verify(pcrs PCRValues) (*State, error) {
	bank, err := stateBank(pcrs)
	if err != nil {
		return nil, err
	}
	for _, b := range sortedBanks(pcrs) {
		for _, i := range BootPCRs {
			want, ok := pcrs[b][i]
			if !ok {
				continue
			}
			if err := l.replay(b, i, want); err != nil {
				return nil, err
			}
		}
	}
	return extract(l, bank)
}

// stateBank returns the bank the boot state is read in.
func stateBank(pcrs PCRValues) (evidence.Bank, error) {
	for _, b := range []evidence.Bank{evidence.SHA256, evidence.SHA384, evidence.SHA512, evidence.SHA1} {
		full := true
		for _, i := range BootPCRs {
			if _, ok := pcrs[b][i]; !ok {
				full = false
				break
			}
		}
		if full {
			return b, nil
		}
	}
	var missing []int
	for _, i := range BootPCRs {
		found := false
		for _, m := range pcrs {
			if _, ok := m[i]; ok {
				found = true
			}
		}
		if !found {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return 0, fmt.Errorf("%w: PCR(s) %v are in no quoted bank; quote PCRs 0-9 (e.g. --pcrs sha256:0-10)", ErrNotQuoted, missing)
	}
	return 0, fmt.Errorf("%w: no single bank holds all of PCRs 0-9", ErrNotQuoted)
}

func sortedBanks(pcrs PCRValues) []evidence.Bank {
	out := make([]evidence.Bank, 0, len(pcrs))
	for b := range pcrs {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// events returns the log's events with their digests in bank b; for a
// bank the log does not carry, the events have no digests (replay refuses
// them).
func (l *Log) events(b evidence.Bank) []attest.Event {
	if evs, ok := l.byBank[b]; ok {
		return evs
	}
	return l.el.Events(attest.HashAlg(b))
}

// number returns the tpm2_eventlog number of the event at position i.
func (l *Log) number(i int) int { return i + l.numberBase }

const (
	evNoAction = 0x03
)

// replay extends PCR index of bank b with the log's events and compares the
// result with want.
func (l *Log) replay(b evidence.Bank, index int, want []byte) error {
	rerr := func(reason string, got []byte, n int) error {
		return &ReplayError{Bank: b, PCR: index, Quoted: want, Replayed: got, Events: n, Reason: reason}
	}
	if !b.Valid() {
		return rerr("unsupported bank", nil, 0)
	}
	if len(want) != b.Size() {
		return rerr(fmt.Sprintf("quoted value is %d bytes, the bank's digests %d", len(want), b.Size()), nil, 0)
	}
	pcr := make([]byte, b.Size())
	n := 0
	for i, e := range l.events(b) {
		if e.Index != index {
			continue
		}
		if uint32(e.Type) == evNoAction {
			if index == 0 && n == 0 && len(e.Data) == 17 && bytes.HasPrefix(e.Data, []byte("StartupLocality\x00")) {
				pcr[len(pcr)-1] = e.Data[16]
			}
			continue
		}
		if len(e.Digest) != b.Size() {
			return rerr(fmt.Sprintf("event %d has no %v digest", l.number(i), b), nil, n)
		}
		h := b.New()
		h.Write(pcr)
		h.Write(e.Digest)
		pcr = h.Sum(pcr[:0])
		n++
	}
	if !bytes.Equal(pcr, want) {
		return rerr("", pcr, n)
	}
	return nil
}

// digestOf is b's digest of p.
func digestOf(b evidence.Bank, p []byte) []byte {
	h := b.New()
	h.Write(p)
	return h.Sum(nil)
}
