package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/tpm"
)

// imaPCR is the PCR the kernel extends IMA measurements into.
const imaPCR = 10

// maxAgeSkew is how far in the future a build's finish time may lie (clock
// skew between builder and verifier) before max-age refuses it.
const maxAgeSkew = 5 * time.Minute

// sameKeyAsTPMTPublic checks that the TPMT_PUBLIC carried beside the AK's
// PEM is a restricted signing key holding the same public key.
func sameKeyAsTPMTPublic(tpmtPublic []byte, trusted crypto.PublicKey) error {
	pub, err := tpm.ParseAKPublic(tpmtPublic)
	if err != nil {
		return err
	}
	return cryptoutils.EqualKeys(trusted, pub)
}

// The checks after the attestation key, in order (verify runs each as a
// step; checkQuotes runs 9 to 11 together, as tpm.VerifyQuote does, and
// reports them in this order):
//
//  9. quote-signature: both quotes verify with the trusted AK (signature
//     over the raw TPMS_ATTEST bytes, then decoding and type), start first;
//  10. nonce: the start quote's extraData is the predicate's start nonce and
//     the end quote's is the nonce recomputed from the verified subjects
//     (predicates.SubjectsNonce), by the recorded construction;
//  11. pcr-digest: each quote's pcrDigest is the digest of the PCR values
//     carried beside it, which cover exactly the quoted selection;
//  12. same-boot: equal resetCount, restartCount, firmware version and
//     signer name, and the end quote's clock later than the start's;
//     12a. ima-baseline: for a log that continues a baseline (ima.baseline),
//     the baseline given, verified once per Verifier, of the same AK and
//     boot, at the position and PCR value named (checkBaseline);
//  13. ima-log: IMA evidence present when the policy requires it; bank
//     one of the policy's ima.banks (the attestation chooses it), PCR 10, declared entry count within the policy's limit, window within
//     the log, both quotes cover PCR 10 of that bank;
//  14. ima-replay: the log, decompressed within the byte limit and decoded
//     as a stream within the entry limit, replays (template hashes checked)
//     to the start quote's PCR 10 after window.start entries and to the end
//     quote's after window.end (a log that continues a baseline: from the
//     baseline's verified PCR 10, its entries numbered from the baseline's
//     position; boot-scope rules see the baseline's entries and these); every entry up to window.end is for PCR 10;
//     the entry count and SHA-256 of the log are as declared; the
//     predicate's window entries (shown to readers by inspect and the
//     action) equal the decoded entries [window.start, window.end) and its
//     ima.template the template of the entries up to window.end;
//  15. boot-log: the carried firmware event log (bootLog), within
//     bootlog.MaxLogSize and of its declared SHA-256, replays to PCRs 0-9 of
//     both quotes in every bank they hold, and IMA's boot_aggregate (when
//     the IMA log was replayed) is the hash of those PCRs; without a log it
//     passes unless the policy has boot rules (checkBootLog);
//  16. boot-rules: the boot state read from the replayed log obeys the
//     policy's boot section (bootlog.Policy.Check);
//  17. golden-pcrs: every PCR the policy names is in both quotes with the
//     golden value;
//  18. ima-rules: the entries in scope (window, or boot: 0 to window.end)
//     obey the policy's violation, deny, exclude and allowlist rules;
//  19. max-age: the build finished at most maxAge ago.
func (vr *verification) checkQuotes() error {
	p := vr.pred
	startNonce, _ := hex.DecodeString(p.Nonce.Start) // hex checked by Validate
	endNonce, construction, err := predicates.SubjectsNonce(vr.subjects)
	if err != nil {
		return vr.rep.fail(CheckNonce, err, "subjects with a nonce encoding", subjectList(vr.subjects))
	}
	start, startErr := tpm.VerifyQuote(p.Quotes.Start.Attest, p.Quotes.Start.Signature, vr.ak.pub, tpm.VerifyOptions{Nonce: startNonce, PCRs: tpmPCRs(p.Quotes.Start.PCRs)})
	end, endErr := tpm.VerifyQuote(p.Quotes.End.Attest, p.Quotes.End.Signature, vr.ak.pub, tpm.VerifyOptions{Nonce: endNonce, PCRs: tpmPCRs(p.Quotes.End.PCRs)})
	// Report in check order: both signatures before either nonce, and so on.
	for _, c := range []struct {
		check Check
		is    []error
	}{
		{CheckQuoteSignature, []error{tpm.ErrSignature, tpm.ErrMalformed, tpm.ErrNotQuote}},
		{CheckNonce, []error{tpm.ErrNonce}},
		{CheckPCRDigest, []error{tpm.ErrPCRDigest, tpm.ErrPCRSelection}},
	} {
		for _, q := range []struct {
			name string
			err  error
		}{{"start", startErr}, {"end", endErr}} {
			if q.err == nil || !slices.ContainsFunc(c.is, func(s error) bool { return errors.Is(q.err, s) }) {
				continue
			}
			exp, found := "", ""
			var me *tpm.MismatchError
			if errors.As(q.err, &me) {
				exp, found = me.Expected, me.Found
			}
			if c.check == CheckNonce && q.name == "end" && exp != "" {
				exp += " (" + construction + " of the subjects)"
			}
			if c.check == CheckQuoteSignature && exp == "" {
				exp, found = "a TPM quote signed by "+vr.ak.fingerprint, "a signature or structure that does not verify"
			}
			return vr.rep.fail(c.check, fmt.Errorf("%s quote: %w", q.name, q.err), exp, found)
		}
		switch c.check {
		case CheckQuoteSignature:
			vr.rep.pass(CheckQuoteSignature, "start and end quotes signed by "+vr.ak.fingerprint)
		case CheckNonce:
			if p.Nonce.Construction != construction {
				return vr.rep.fail(CheckNonce, fmt.Errorf("%w: nonce.construction", ErrMalformed), construction, orNone(p.Nonce.Construction))
			}
			vr.rep.pass(CheckNonce, "end quote bound to the subjects ("+construction+")")
		case CheckPCRDigest:
			vr.rep.pass(CheckPCRDigest, fmt.Sprintf("start %d, end %d PCR values", len(start.PCRs), len(end.PCRs)))
		}
	}
	for _, err := range []error{startErr, endErr} {
		if err != nil { // an error none of the sentinels names: refuse all the same
			return vr.rep.fail(CheckQuoteSignature, err, "a verifiable quote", "an error")
		}
	}
	vr.verified = [2]*tpm.VerifiedQuote{start, end}
	return nil
}

func tpmPCRs(in []predicates.PCR) []tpm.PCRValue {
	out := make([]tpm.PCRValue, len(in))
	for i, v := range in {
		b, _ := hex.DecodeString(v.Value) // hex checked by Validate
		out[i] = tpm.PCRValue{Bank: v.Bank, Index: v.Index, Value: b}
	}
	return out
}

func (vr *verification) checkSameBoot(start, end *tpm.VerifiedQuote) error {
	s, e := start.ClockInfo, end.ClockInfo
	clock := func(c tpm.ClockInfo) string {
		return fmt.Sprintf("resetCount %d, restartCount %d, clock %d", c.ResetCount, c.RestartCount, c.Clock)
	}
	switch {
	case s.ResetCount != e.ResetCount || s.RestartCount != e.RestartCount:
		return vr.rep.fail(CheckSameBoot, ErrReboot, "end: "+fmt.Sprintf("resetCount %d, restartCount %d", s.ResetCount, s.RestartCount), "end: "+clock(e))
	case e.Clock <= s.Clock:
		return vr.rep.fail(CheckSameBoot, ErrReboot, fmt.Sprintf("end clock after %d", s.Clock), fmt.Sprintf("%d", e.Clock))
	case start.FirmwareVersion != end.FirmwareVersion:
		return vr.rep.fail(CheckSameBoot, ErrReboot, "firmware "+tpm.FormatFirmwareVersion(start.FirmwareVersion), "firmware "+tpm.FormatFirmwareVersion(end.FirmwareVersion))
	case !bytes.Equal(start.QualifiedSigner, end.QualifiedSigner):
		return vr.rep.fail(CheckSameBoot, ErrReboot, "qualified signer "+hex.EncodeToString(start.QualifiedSigner), hex.EncodeToString(end.QualifiedSigner))
	}
	vr.quotes = [2]*tpm.VerifiedQuote{start, end}
	vr.rep.pass(CheckSameBoot, fmt.Sprintf("resetCount %d, restartCount %d, %d ms between quotes", e.ResetCount, e.RestartCount, e.Clock-s.Clock))
	return nil
}

// quotedPCR returns the value of bank:index in a verified quote.
func quotedPCR(q *tpm.VerifiedQuote, bank string, index int) []byte {
	for _, v := range q.PCRs {
		if v.Bank == bank && v.Index == index {
			return v.Value
		}
	}
	return nil
}

func (vr *verification) checkIMA(end *tpm.VerifiedQuote) error {
	m := &vr.pred.IMA
	pol := vr.v.policy.IMA()
	facts := &IMAFacts{Present: m.Present, Scope: pol.Scope()}
	if !m.Present {
		if pol.Required() {
			return vr.rep.fail(CheckIMALog, ErrIMAMissing, "kernel IMA evidence", "none: "+m.Reason)
		}
		vr.rep.report.Facts.IMA = facts
		vr.rep.pass(CheckIMALog, "absent ("+m.Reason+"); the policy does not require it")
		vr.rep.pass(CheckIMAReplay, "no IMA log")
		return nil
	}
	bank, err := evidence.ParseBank(m.Bank)
	if err != nil {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: ima.bank: %w", ErrMalformed, err), "sha1, sha256, sha384 or sha512", orNone(m.Bank))
	}
	if !slices.Contains(pol.Banks(), m.Bank) {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: %s", ErrIMABank, m.Bank), "one of "+strings.Join(pol.Banks(), ", ")+" (ima.banks)", orNone(m.Bank))
	}
	if m.PCR != imaPCR {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: ima.pcr", ErrMalformed), "10", fmt.Sprint(m.PCR))
	}
	if m.Log.First+m.Log.Entries != m.Window.End {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: ima.log.entries", ErrIMALog), fmt.Sprintf("%d entries: the log ends at the end quote (window.end)", m.Window.End-m.Log.First), fmt.Sprint(m.Log.Entries))
	}
	if (m.Baseline == nil) != (vr.baseline == nil) || m.Log.First != 0 && m.Baseline == nil {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: ima.log.first without a verified baseline", ErrIMALog), "a log from entry 0, or one continuing a verified baseline", fmt.Sprintf("first entry %d", m.Log.First))
	}
	if m.Log.Entries == 0 && m.Baseline == nil {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: an empty log", ErrIMALog), "a kernel log, which begins with boot_aggregate", "no entries")
	}
	if m.Log.Entries > pol.MaxEntries() {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: IMA log entries", ErrTooLarge), fmt.Sprintf("at most %d (ima.maxEntries)", pol.MaxEntries()), fmt.Sprint(m.Log.Entries))
	}
	w := m.Window
	startPCR, endPCR := quotedPCR(vr.quotes[0], m.Bank, imaPCR), quotedPCR(vr.quotes[1], m.Bank, imaPCR)
	if startPCR == nil || endPCR == nil {
		return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: PCR 10 not quoted", ErrIMALog), m.Bank+":10 in both quotes", "missing")
	}
	facts.Bank, facts.LogEntries, facts.WindowStart, facts.WindowEnd = m.Bank, m.Log.Entries, w.Start, w.End
	if m.Baseline != nil {
		facts.Baseline = m.Baseline.Digest
	}
	if m.Log.Detached {
		if vr.detached == nil {
			return vr.rep.fail(CheckIMALog, fmt.Errorf("%w: the IMA log is detached and was not given", ErrIMALog), "the detached log (verify --ima-log FILE)", "none")
		}
		vr.rep.pass(CheckIMALog, fmt.Sprintf("%d entries (%s, detached), window [%d, %d)", m.Log.Entries, m.Bank, w.Start, w.End))
	} else {
		_, compression, _ := strings.Cut(m.Log.Encoding, "+")
		vr.rep.pass(CheckIMALog, fmt.Sprintf("%d entries (%s, %d bytes %s), window [%d, %d)", m.Log.Entries, m.Bank, decodedLen(vr.logB64), compression, w.Start, w.End))
	}

	if err := pol.Ready(); err != nil { // the Keylime runtime policies, loaded meanwhile
		return vr.rep.fail(CheckIMARules, err, "the policy's Keylime runtime policies", "not loaded")
	}
	ev := pol.NewEvaluation(vr.v.collect)
	if vr.baseline != nil && pol.Scope() == policy.ScopeBoot {
		ev.AddTally(vr.baseline.tally) // the baseline's entries, evaluated once
	}
	if err := vr.replay(bank, startPCR, endPCR, ev); err != nil {
		return err
	}
	facts.addTally(ev.Tally())
	facts.BootAggregate = vr.bootAggregate
	vr.ima = facts
	f := *facts
	f.Findings, f.FindingsTotal = nil, 0 // findings are reported by ima-rules
	vr.rep.report.Facts.IMA = &f
	vr.rep.pass(CheckIMAReplay, fmt.Sprintf("%d entries replay to PCR 10 of the start quote, %d to the end quote's", w.Start, w.End))
	return nil
}

// errLogTooLarge ends the decompression of a log past the byte limit.
var errLogTooLarge = errors.New("IMA log decompresses past the limit")

// cappedReader returns errLogTooLarge once more than n bytes were read.
type cappedReader struct {
	r io.Reader
	n int64
	h hash.Hash
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return 0, errLogTooLarge
	}
	c.h.Write(p[:n])
	return n, err
}

// errPipeStopped is what a chunkPipe's reader gets after stop.
var errPipeStopped = errors.New("IMA log reading stopped")

// chunkPipe reads src on its own goroutine into a few buffers, ahead of
// its reader, so that the two sides run at once.
type chunkPipe struct {
	full    chan chunk
	free    chan []byte
	done    chan struct{}
	stopped chan struct{}
	cur     chunk
	off     int
	once    bool
}

type chunk struct {
	b   []byte
	err error
}

const (
	chunkSize    = 256 << 10
	chunkBuffers = 4
)

func newChunkPipe(src io.Reader) *chunkPipe {
	p := &chunkPipe{full: make(chan chunk, chunkBuffers), free: make(chan []byte, chunkBuffers), done: make(chan struct{}), stopped: make(chan struct{})}
	for range chunkBuffers {
		p.free <- make([]byte, chunkSize)
	}
	go func() {
		defer close(p.stopped)
		for {
			var b []byte
			select {
			case b = <-p.free:
			case <-p.done:
				return
			}
			n, err := readChunk(src, b)
			select {
			case p.full <- chunk{b[:n], err}:
			case <-p.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// readChunk fills b from src as io.ReadFull would, but returns src's own
// error: io.EOF only for a clean end, never for a decompressor's
// io.ErrUnexpectedEOF (a gzip or zstd stream cut short, or followed by a
// few bytes), which must refuse the log.
func readChunk(src io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := src.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (p *chunkPipe) Read(b []byte) (int, error) {
	for p.off == len(p.cur.b) {
		if p.cur.err != nil {
			return 0, p.cur.err
		}
		if p.cur.b != nil {
			p.free <- p.cur.b[:cap(p.cur.b)]
		}
		select {
		case p.cur = <-p.full:
			p.off = 0
		case <-p.done: // stopped: a reader still running must not block
			p.cur = chunk{err: errPipeStopped}
			return 0, p.cur.err
		}
	}
	n := copy(b, p.cur.b[p.off:])
	p.off += n
	return n, nil
}

// stop ends the reading goroutine and waits for it.
func (p *chunkPipe) stop() {
	if !p.once {
		p.once = true
		close(p.done)
	}
	<-p.stopped
}

// decompressor returns a decompressing reader of the carried log's bytes by
// its declared encoding (checked by the predicate's validation), both
// bounded in memory: zstd within evidence.MaxZstdWindow, gzip by its 32 KiB
// window. What they produce is capped by the replay (ima.maxLogBytes).
func decompressor(encoding string, r io.Reader) (io.Reader, error) {
	switch encoding {
	case predicates.IMALogEncoding:
		return evidence.NewZstdReader(r)
	case predicates.IMALogEncodingGzip:
		return gzip.NewReader(r)
	}
	return nil, fmt.Errorf("ima.log.encoding %q", encoding)
}

// replay decodes the carried log as a stream and replays PCR 10, checking
// the values at the window bounds, and feeds the entries in scope to ev.
// The stages run at once: base64 and decompressing (which also hashes the log) on
// one goroutine, parsing on another, hashing template data on every core
// (evidence.ReplayEntries), the extend chain and the checks on the
// caller's. The compressed log is never held whole: it is read from the
// statement's base64 text.
func (vr *verification) replay(bank evidence.Bank, startPCR, endPCR []byte, ev *policy.IMAEvaluation) error {
	m := &vr.pred.IMA
	pol := vr.v.policy.IMA()
	w := m.Window
	var (
		zr   io.Reader
		text *b64Reader // nil for a detached log
	)
	if m.Log.Detached {
		zr = vr.detached // the uncompressed log itself
	} else {
		var err error
		text = &b64Reader{text: vr.logB64}
		if zr, err = decompressor(m.Log.Encoding, text); err != nil {
			return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: IMA log: %w", ErrMalformed, err), m.Log.Encoding, "not that encoding")
		}
	}
	capped := &cappedReader{r: zr, n: pol.MaxLogBytes(), h: sha256.New()}
	decompressed := newChunkPipe(capped)
	defer decompressed.stop()
	// A log that continues a baseline replays from the baseline's verified
	// PCR 10, its entries numbered from the baseline's position.
	first, initial := 0, make([]byte, bank.Size())
	var replayOpts []evidence.ReplayOption
	if vr.baseline != nil {
		first, initial = m.Log.First, vr.baseline.pcrValue
		replayOpts = append(replayOpts, evidence.WithInitialValue(initial))
		vr.aggregate, vr.bootAggregate = vr.baseline.aggregate, vr.baseline.bootAggregate
	}
	r, err := evidence.NewReader(decompressed, evidence.WithMaxEntries(pol.MaxEntries()), evidence.WithFirstIndex(first))
	if err != nil {
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: IMA log: %w", ErrMalformed, err), "a binary IMA log", "unreadable")
	}
	if r.Format() != evidence.FormatBinary || r.Compressed() {
		found := r.Format().String()
		if r.Compressed() {
			found = "a compressed log inside the compressed log"
		}
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: IMA log format", ErrMalformed), "binary_runtime_measurements", found)
	}
	atBound := func(n int, value []byte) error {
		if n == w.Start && !bytes.Equal(value, startPCR) {
			return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: window start %d", ErrIMALog, w.Start), "start quote's PCR 10 "+hex.EncodeToString(startPCR), hex.EncodeToString(value)+fmt.Sprintf(" after %d entries", n))
		}
		if n == w.End && !bytes.Equal(value, endPCR) {
			return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: window end %d", ErrIMALog, w.End), "end quote's PCR 10 "+hex.EncodeToString(endPCR), hex.EncodeToString(value)+fmt.Sprintf(" after %d entries", n))
		}
		return nil
	}
	if err := atBound(first, initial); err != nil {
		return err
	}
	n := first
	var templates policy.TemplateCache
	var template predicates.LogTemplate // of the entries up to w.End, as CollectIMA names it
	scopeStart := w.Start
	if pol.Scope() == policy.ScopeBoot {
		scopeStart = 0
	}
	var failed error
	bootPCRs := func(b evidence.Bank) [][]byte {
		var out [][]byte
		for i := range evidence.BootAggregatePCRs(b) {
			v := quotedPCR(vr.quotes[1], b.String(), i)
			if v == nil {
				return nil
			}
			out = append(out, v)
		}
		return out
	}
	visit := func(e *evidence.Entry, value []byte, herr error) bool {
		if n >= w.End {
			failed = vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: entry %d after window.end", ErrIMALog, e.Index), fmt.Sprintf("the log to end at the end quote, after %d entries", w.End), fmt.Sprintf("entry %d (PCR %d, %s) at byte offset %d", e.Index, e.PCR, e.TemplateName, e.Offset))
			return false
		}
		if n == 0 && first == 0 {
			compared, err := evidence.CheckBootAggregate(e, bootPCRs)
			if err != nil {
				failed = vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: %w", ErrIMALog, err), "entry 0: boot_aggregate, the hash of the quoted PCRs 0-9 (sha1: 0-7) where the quotes cover them", fmt.Sprintf("%s %s:%x", orNone(e.Path), e.FileDigestAlg, e.FileDigest))
				return false
			}
			vr.bootAggregate = "not bound: the quotes do not cover " + e.FileDigestAlg + " PCRs 0-9"
			if compared {
				b, _ := evidence.ParseBank(e.FileDigestAlg)
				vr.bootAggregate = fmt.Sprintf("equals the quoted %s PCRs 0-%d", e.FileDigestAlg, evidence.BootAggregatePCRs(b)-1)
			}
		}
		if n < w.End {
			if e.PCR != imaPCR {
				failed = vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: entry %d", ErrIMALog, e.Index), "entries for PCR 10 (the quoted PCR)", fmt.Sprintf("PCR %d", e.PCR))
				return false
			}
			if herr != nil {
				failed = vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: %w", ErrIMALog, herr), "template hashes of the template data", "a mismatch")
				return false
			}
			if n >= w.Start && vr.baseline == nil { // beside a baseline, no window entries are carried (predicate validation)
				if n-w.Start >= len(w.Entries) {
					failed = vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: ima.window.entries", ErrIMALog), fmt.Sprintf("%d window entries ([%d, %d))", w.End-w.Start, w.Start, w.End), fmt.Sprint(len(w.Entries)))
					return false
				}
				if got, shown := predicates.WindowEntryOf(e), w.Entries[n-w.Start]; got != shown {
					failed = vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: ima.window.entries[%d] is not entry %d of the log", ErrIMALog, n-w.Start, n), fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", shown))
					return false
				}
			}
			template.Add(e.TemplateName)
			if n == 0 && e.Path == "boot_aggregate" && len(e.FileDigest) > 0 {
				vr.aggregate = &bootAggregate{alg: e.FileDigestAlg, digest: bytes.Clone(e.FileDigest)}
			}
			if n >= scopeStart {
				ev.Add(templates.Measurement(e))
			}
		}
		n++
		if err := atBound(n, value); err != nil {
			failed = err
			return false
		}
		return true
	}
	// Template data is hashed on every core; entries before the scope are
	// decoded without their path, which the rules do not read.
	err = evidence.ReplayEntries(r, bank, imaPCR, visit, append(replayOpts, evidence.WithPathsFrom(scopeStart))...)
	if failed != nil {
		return failed
	}
	if err != nil {
		exp, found := "a well-formed "+m.Log.Encoding+" log", "malformed"
		switch {
		case errors.Is(err, errLogTooLarge):
			err = fmt.Errorf("%w: %w", ErrTooLarge, err)
			exp, found = fmt.Sprintf("at most %d bytes uncompressed (ima.maxLogBytes)", pol.MaxLogBytes()), "more"
		case errors.Is(err, evidence.ErrTooManyEntries):
			err = fmt.Errorf("%w: %w", ErrTooLarge, err)
			exp, found = fmt.Sprintf("at most %d entries (ima.maxEntries)", pol.MaxEntries()), "more"
		default:
			err = fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return vr.rep.fail(CheckIMAReplay, err, exp, found)
	}
	if n != first+m.Log.Entries || n < w.End {
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: entry count", ErrIMALog), fmt.Sprintf("%d entries (ima.log.entries)", m.Log.Entries), fmt.Sprint(n))
	}
	if len(w.Entries) != w.End-w.Start && vr.baseline == nil {
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: ima.window.entries", ErrIMALog), fmt.Sprintf("%d window entries ([%d, %d))", w.End-w.Start, w.Start, w.End), fmt.Sprint(len(w.Entries)))
	}
	if template.String() != m.Template {
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: ima.template", ErrIMALog), template.String(), orNone(m.Template))
	}
	decompressed.stop()                  // capped.h is complete: the parser read to the end
	if text != nil && !text.consumed() { // the decompressor stopped before the end of the text
		found := "text after the compressed stream"
		if text.err != nil {
			found = text.err.Error()
		}
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: ima.log.data", ErrMalformed), "base64 of the compressed log and nothing after it", found)
	}
	if sum := hex.EncodeToString(capped.h.Sum(nil)); !strings.EqualFold(sum, m.Log.SHA256) {
		return vr.rep.fail(CheckIMAReplay, fmt.Errorf("%w: log SHA-256", ErrIMALog), m.Log.SHA256, sum)
	}
	return nil
}

func (vr *verification) checkGoldenPCRs() error {
	golden := vr.v.policy.GoldenPCRs()
	if len(golden) == 0 {
		vr.rep.pass(CheckGoldenPCRs, "the policy names none")
		return nil
	}
	for _, g := range golden {
		for i, q := range vr.quotes {
			got := quotedPCR(q, g.Bank, g.Index)
			if !bytes.Equal(got, g.Value) {
				which := [2]string{"start", "end"}[i]
				found := hex.EncodeToString(got)
				if got == nil {
					found = "not quoted"
				}
				return vr.rep.fail(CheckGoldenPCRs, fmt.Errorf("%w: %s:%d in the %s quote", ErrGoldenPCR, g.Bank, g.Index, which), hex.EncodeToString(g.Value), found)
			}
		}
	}
	vr.rep.pass(CheckGoldenPCRs, fmt.Sprintf("%d PCR(s) equal the policy's", len(golden)))
	return nil
}

func (vr *verification) checkIMARules() error {
	if vr.ima == nil {
		vr.rep.pass(CheckIMARules, "no IMA log")
		return nil
	}
	f := *vr.ima
	if f.FindingsTotal > 0 {
		vr.rep.report.Facts.IMA.Findings, vr.rep.report.Facts.IMA.FindingsTotal = f.Findings, f.FindingsTotal
		first := f.Findings[0]
		return vr.rep.fail(CheckIMARules, fmt.Errorf("%w: %d of %d entries in scope, first %s", ErrIMARule, f.FindingsTotal, f.InScope, first),
			"every entry in scope allowed by the policy", fmt.Sprintf("%s (rule %s)", first, first.Rule))
	}
	detail := fmt.Sprintf("%d entries in scope (%s), %d excluded, %d violations", f.InScope, f.Scope, f.Excluded, f.Violations)
	if f.Unchecked > 0 {
		detail += fmt.Sprintf(", %d unchecked (ima.templates)", f.Unchecked)
	}
	vr.rep.pass(CheckIMARules, detail)
	return nil
}

func (vr *verification) checkAge() error {
	fin := vr.pred.Build.FinishedOn
	max := vr.v.policy.MaxAge()
	if max == 0 {
		vr.rep.report.Facts.FinishedOn = &fin
		vr.rep.pass(CheckMaxAge, "the policy sets no maximum age")
		return nil
	}
	age := vr.v.now().Sub(fin)
	if age > max || age < -maxAgeSkew {
		return vr.rep.fail(CheckMaxAge, ErrTooOld, fmt.Sprintf("finished within %s before now", max), fmt.Sprintf("finished %s (%s ago)", fin.UTC().Format(time.RFC3339), age.Round(time.Second)))
	}
	vr.rep.report.Facts.FinishedOn = &fin
	vr.rep.pass(CheckMaxAge, fmt.Sprintf("finished %s ago (limit %s)", age.Round(time.Second), max))
	return nil
}
