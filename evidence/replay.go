package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

type replayConfig struct {
	initial   []byte
	paddedSHA bool
	workers   int
	pathsFrom int // 0: unset (no paths); else the first index + 1
}

// ReplayOption configures a Replayer, Replay and the prefix matchers.
type ReplayOption func(*replayConfig)

// WithInitialValue starts the replay from v instead of the all-zero PCR
// (for a log that does not start at boot). v must have the bank's size.
func WithInitialValue(v []byte) ReplayOption {
	return func(c *replayConfig) { c.initial = bytes.Clone(v) }
}

// WithPaddedSHA1Rule replays by the rule of kernels before 5.8: every bank
// is extended with the entry's sha1 template hash, zero-padded to the
// bank's size. Without it, a bank other than sha1 is extended with the
// bank's hash of the template data (kernel 5.8 and later).
func WithPaddedSHA1Rule() ReplayOption {
	return func(c *replayConfig) { c.paddedSHA = true }
}

// WithWorkers sets how many goroutines hash template data in Replay and the
// prefix matchers (default GOMAXPROCS; 1 hashes on the calling goroutine).
// The extend chain itself is always sequential.
func WithWorkers(n int) ReplayOption {
	return func(c *replayConfig) { c.workers = n }
}

// WithPathsFrom makes ReplayEntries decode the Path of entries from index i
// on, and of entry 0, a kernel log's boot_aggregate (the others are decoded
// without it, which saves an allocation per entry; their fields are still
// checked). Without it ReplayEntries decodes no Path; Replay and the prefix
// matchers never need one.
func WithPathsFrom(i int) ReplayOption {
	return func(c *replayConfig) { c.pathsFrom = max(i, 0) + 1 }
}

// Replayer computes one PCR of one bank from log entries, as the kernel
// extends it (security/integrity/ima/ima_queue.c, ima_pcr_extend):
//
//   - a violation (all-zero template hash) extends all 0xff of the bank's size;
//   - otherwise the entry's logged template hash must equal the hash of its
//     template data by the algorithm of the logged hash's size (sha1 for
//     binary_runtime_measurements, the bank's for per-bank logs);
//   - the sha1 bank is extended with the sha1 template hash, every other bank
//     with the bank's hash of the template data (kernel 5.8 and later), or
//     with WithPaddedSHA1Rule the sha1 template hash zero-padded.
//
// The replay always extends the digest computed from the template data, never
// a logged hash, so a replay that reaches a quoted value vouches for the
// template data it covered.
type Replayer struct {
	bank  Bank
	pcr   uint32
	cfg   replayConfig
	value []byte
	buf   [128]byte // value | digest, for the extend hash
	dig   [64]byte  // the digest being extended
	ima   []byte    // scratch for template "ima" hash input
}

// NewReplayer returns a Replayer of PCR pcr in bank. It panics if bank is
// not a supported bank or WithInitialValue has the wrong size; check
// Bank.Valid on untrusted input (ParseBank returns only valid banks).
func NewReplayer(bank Bank, pcr uint32, opts ...ReplayOption) *Replayer {
	cfg := replayConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if !bank.Valid() {
		panic("evidence: NewReplayer: unsupported bank " + bank.String())
	}
	rp := &Replayer{bank: bank, pcr: pcr, cfg: cfg, value: make([]byte, bank.Size())}
	if cfg.initial != nil {
		if len(cfg.initial) != bank.Size() {
			panic(fmt.Sprintf("evidence: NewReplayer: initial value of %d bytes for bank %s", len(cfg.initial), bank))
		}
		copy(rp.value, cfg.initial)
	}
	return rp
}

// Extend extends the entry into the PCR if it belongs to the Replayer's PCR
// (other entries are ignored). A template hash mismatch returns a
// *TemplateHashError (errors.Is ErrTemplateHashMismatch) after extending the
// digest of the template data, so a caller may count mismatches and go on.
func (rp *Replayer) Extend(e *Entry) error {
	if e.PCR != rp.pcr {
		return nil
	}
	d, err := extendDigest(e, rp.bank, rp.cfg.paddedSHA, rp.dig[:0], &rp.ima)
	rp.extend(d)
	return err
}

func (rp *Replayer) extend(d []byte) {
	n := rp.bank.Size()
	copy(rp.buf[:n], rp.value)
	copy(rp.buf[n:2*n], d)
	rp.value = rp.bank.sum(rp.value[:0], rp.buf[:2*n])
}

// Value returns a copy of the PCR value so far.
func (rp *Replayer) Value() []byte { return bytes.Clone(rp.value) }

// Bank returns the Replayer's bank.
func (rp *Replayer) Bank() Bank { return rp.bank }

// extendDigest returns (appended to dst) the digest that entry e extends
// into bank, and a *TemplateHashError if its logged hash is wrong. scratch
// holds a reusable buffer for template "ima".
func extendDigest(e *Entry, bank Bank, padded bool, dst []byte, scratch *[]byte) ([]byte, error) {
	if e.Violation() {
		for range bank.Size() {
			dst = append(dst, 0xff)
		}
		return dst, nil
	}
	logBank, ok := bankOfSize(len(e.TemplateHash))
	if !ok {
		// The reader admits only bank-sized template hashes; an Entry built
		// by hand may not.
		return dst, &ParseError{Index: e.Index, Offset: e.Offset, Field: "template_hash",
			Err: fmt.Errorf("%w: template hash of %d bytes", ErrUnknownAlgorithm, len(e.TemplateHash))}
	}
	in := e.hashInput(*scratch)
	if e.TemplateName == templateIMA {
		*scratch = in
	}
	var logged [64]byte
	computed := logBank.sum(logged[:0], in)
	var err error
	if !bytes.Equal(computed, e.TemplateHash) {
		err = &TemplateHashError{Index: e.Index, Offset: e.Offset,
			Logged: bytes.Clone(e.TemplateHash), Computed: bytes.Clone(computed)}
	}
	switch {
	case padded:
		var s [sha1Len]byte
		sha := computed
		if logBank != SHA1 {
			sha = SHA1.sum(s[:0], in)
		}
		n := len(dst)
		dst = append(dst, sha...)
		for len(dst)-n < bank.Size() {
			dst = append(dst, 0)
		}
		return dst[:n+bank.Size()], err
	case logBank == bank:
		return append(dst, computed...), err
	default:
		return bank.sum(dst, in), err
	}
}

// Result is the outcome of a replay.
type Result struct {
	Bank       Bank
	PCR        uint32
	Value      []byte // the PCR value after every entry
	Entries    int    // entries read (all PCRs)
	Extended   int    // entries of this PCR extended
	Violations int    // violation entries of this PCR (extended as all 0xff)
	Mismatches int    // entries of this PCR whose logged template hash is wrong
	// MismatchIndices lists the indices of the first MaxMismatchIndices
	// mismatched entries.
	MismatchIndices []int
	// MismatchErrors holds those entries' errors: index, byte offset,
	// logged and computed template hash.
	MismatchErrors []*TemplateHashError
}

// MaxMismatchIndices bounds Result.MismatchIndices.
const MaxMismatchIndices = 100

// Replay reads every entry of r and replays PCR pcr of bank. It returns an
// error only for malformed input (a *ParseError) or a failed read; template
// hash mismatches are counted in the Result, not returned.
//
// The caller must not trust the result before comparing Value with a PCR
// value from a verified quote, and must refuse a Result with Mismatches > 0
// unless it knows why. Template data is hashed on WithWorkers goroutines;
// the extend chain runs on the calling goroutine; memory stays bounded by a
// few batches of entries whatever the log's length.
func Replay(r *Reader, bank Bank, pcr uint32, opts ...ReplayOption) (*Result, error) {
	if !bank.Valid() {
		return nil, fmt.Errorf("%w: bank %s", ErrUnknownAlgorithm, bank)
	}
	res := &Result{Bank: bank, PCR: pcr}
	rp, err := newReplayerChecked(bank, pcr, opts)
	if err != nil {
		return nil, err
	}
	// Only counts are kept: the workers count their batches, so that this
	// goroutine reads the digests it extends and no entry (an entry read
	// on the core that decoded it costs a cross-core transfer of its
	// cache lines, and on some hosts that is most of a replay's time).
	err = scan(r, rp, nil, res)
	if err != nil {
		return nil, err
	}
	res.Value = rp.Value()
	return res, nil
}

// ReplayEntries reads every entry of r and replays PCR pcr of bank as Replay
// does (template data hashed on WithWorkers goroutines, the extend chain in
// order), calling visit on the calling goroutine, in log order, for each
// entry of any PCR with the PCR value after it and the entry's template hash
// error (nil, or a *TemplateHashError for an entry of this PCR whose logged
// hash is wrong; its digest of the template data was extended). visit
// returns false to stop reading. It returns a *ParseError for malformed
// input, after visiting the entries before it, or a read error.
//
// The Entry and value are valid only during the call: both are reused
// afterwards (a Path string may be kept). Entries carry their Path only from
// the index WithPathsFrom names. As for Replay, nothing is trusted before the
// caller compares a value with a PCR value from a verified quote.
func ReplayEntries(r *Reader, bank Bank, pcr uint32, visit func(e *Entry, value []byte, herr error) bool, opts ...ReplayOption) error {
	rp, err := newReplayerChecked(bank, pcr, opts)
	if err != nil {
		return err
	}
	if rp.cfg.pathsFrom > 0 {
		r.pathsFrom = rp.cfg.pathsFrom - 1 // r is consumed: never reset
	}
	return scan(r, rp, func(e *Entry, herr error) bool { return visit(e, rp.value, herr) }, nil)
}

func newReplayerChecked(bank Bank, pcr uint32, opts []ReplayOption) (*Replayer, error) {
	cfg := replayConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if !bank.Valid() {
		return nil, fmt.Errorf("%w: bank %s", ErrUnknownAlgorithm, bank)
	}
	if cfg.initial != nil && len(cfg.initial) != bank.Size() {
		return nil, fmt.Errorf("%w: initial value of %d bytes for bank %s", ErrDigestSize, len(cfg.initial), bank)
	}
	return NewReplayer(bank, pcr, opts...), nil
}

// batch is a run of entries hashed together by one worker.
type batch struct {
	n       int // entries in use
	entries []*Entry
	digests []byte // len(entries) * bank size; zero-length for other PCRs' entries
	errs    []error
	readErr error // the error that ended reading after these entries
	// badAt is the index in the batch of the first entry whose template
	// data does not decode (its error in errs), or n when all decode.
	badAt int
	ready chan struct{}
	// Set by the worker when scan counts (Replay) instead of visiting:
	// ext[i] says entry i is of the replayed PCR; counts are of the
	// entries before badAt; errAt lists the entries with a template hash
	// error, in order.
	ext   []bool
	count Result // its Entries, Extended and Violations
	errAt []int
}

// countEntry counts entry i of b (before badAt) as Replay reports it; its
// mismatch, if any, is kept in errAt for addCounts to add in log order.
func (b *batch) countEntry(i int, e *Entry, pcr uint32) {
	b.ext[i] = b.count.count(e, pcr)
	if b.ext[i] && b.errs[i] != nil {
		b.errAt = append(b.errAt, i)
	}
}

// count counts e in Entries and, when it is of pcr, in Extended and
// Violations; it reports whether e is of pcr.
func (res *Result) count(e *Entry, pcr uint32) bool {
	res.Entries++
	if e.PCR != pcr {
		return false
	}
	res.Extended++
	if e.Violation() {
		res.Violations++
	}
	return true
}

// addCounts adds b's counts to res, with the mismatched entries' indices
// and errors up to MaxMismatchIndices.
func (b *batch) addCounts(res *Result) {
	res.Entries += b.count.Entries
	res.Extended += b.count.Extended
	res.Violations += b.count.Violations
	for _, i := range b.errAt {
		res.addMismatch(b.entries[i].Index, b.errs[i])
	}
}

// addMismatch counts a template hash error of the entry at index, keeping
// the first MaxMismatchIndices.
func (res *Result) addMismatch(index int, err error) {
	res.Mismatches++
	if len(res.MismatchIndices) < MaxMismatchIndices {
		res.MismatchIndices = append(res.MismatchIndices, index)
		if te := (*TemplateHashError)(nil); errors.As(err, &te) {
			res.MismatchErrors = append(res.MismatchErrors, te)
		}
	}
}

// batchSize bounds the entries of a batch, batchBytes their records'
// bytes: a batch ends at whichever comes first, so that the batches in
// flight hold at most a few MiB however large the records (each at most
// the reader's record limit). With 128 entries, the batches in flight (their
// Entry structs and records) stay within a core's L2 cache: 256 took 10 %
// more CPU to replay the 200k-entry log, 1024 a quarter more.
const (
	batchSize  = 128
	batchBytes = 1 << 20
)

// scan reads r, extends rp with every entry, and calls visit after each
// entry (of any PCR) with the entry's template hash error. visit returns
// false to stop early. With counts set, visit is nil: the entries are
// counted into it as Replay reports them (on the workers, when there are
// several). Hashing runs on the configured number of workers.
func scan(r *Reader, rp *Replayer, visit func(e *Entry, herr error) bool, counts *Result) error {
	if counts != nil {
		visit = func(e *Entry, herr error) bool { // the sequential path counts here
			if counts.count(e, rp.pcr) && herr != nil {
				counts.addMismatch(e.Index, herr)
			}
			return true
		}
	}
	workers := rp.cfg.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers == 1 {
		e := new(Entry)
		for {
			var err error
			e, err = r.next(e)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			herr := rp.Extend(e)
			if !visit(e, herr) {
				return nil
			}
		}
	}

	r.deferDecode = true
	defer func() { r.deferDecode = false }() // after the workers stop (deferred below)
	size := rp.bank.Size()
	depth := 2*workers + 2
	ordered := make(chan *batch, depth)
	// Batches circulate: a worker reads one, queues it for the extend
	// chain and hashes it; the chain frees it for the next read, reusing
	// its entries' buffers, so memory stays at depth+1 batches. They are
	// made as reading first needs them: a short log makes one.
	free := make(chan *batch, depth+1)
	done := make(chan struct{})
	var (
		mu    sync.Mutex // held while a batch is read and queued: batches queue in log order
		made  int
		ended bool // the log is read to its end or an error, or the chain stopped
	)
	newBatch := func() *batch {
		made++
		b := &batch{entries: make([]*Entry, batchSize), digests: make([]byte, batchSize*size), errs: make([]error, batchSize), ext: make([]bool, batchSize)}
		es := make([]Entry, batchSize)
		for i := range b.entries {
			b.entries[i] = &es[i]
		}
		return b
	}
	// read reads the next batch and queues it; nil once reading has ended.
	// The worker that reads a batch hashes it, so its entries stay in the
	// cache of the core that wrote them.
	read := func() *batch {
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return nil
		}
		var b *batch
		select {
		case b = <-free:
		case <-done:
			ended = true
			return nil
		default:
			if made < depth+1 {
				b = newBatch()
				break
			}
			select {
			case b = <-free:
			case <-done:
				ended = true
				return nil
			}
		}
		b.n, b.readErr, b.ready = 0, nil, make(chan struct{})
		for bytes := 0; b.n < batchSize && bytes < batchBytes; {
			e, err := r.next(b.entries[b.n])
			if err != nil {
				if err != io.EOF {
					b.readErr = err
				}
				ended = true
				break
			}
			b.entries[b.n] = e
			b.n++
			bytes += e.Len
		}
		select {
		case ordered <- b:
		case <-done:
			ended = true
			return nil
		}
		if ended {
			close(ordered)
		}
		return b
	}
	var wg sync.WaitGroup
	defer func() {
		close(done) // stops the workers' reading
		wg.Wait()
	}()
	for range workers {
		wg.Add(1)
		go func() { // read, decode and hash
			defer wg.Done()
			var scratch []byte
			for b := read(); b != nil; b = read() {
				b.badAt = b.n
				b.count, b.errAt = Result{}, b.errAt[:0]
				for i, e := range b.entries[:b.n] {
					b.errs[i] = nil
					if e.pending.set {
						if err := e.decodePending(); err != nil {
							b.errs[i], b.badAt = err, i
							break
						}
					}
					if e.PCR == rp.pcr {
						_, b.errs[i] = extendDigest(e, rp.bank, rp.cfg.paddedSHA, b.digests[i*size:i*size], &scratch)
					}
					if counts != nil {
						b.countEntry(i, e, rp.pcr)
					}
				}
				close(b.ready)
			}
		}()
	}

	for b := range ordered {
		<-b.ready
		if counts != nil {
			// The worker counted: only the digests are read here.
			for i := range b.badAt {
				if b.ext[i] {
					rp.extend(b.digests[i*size : (i+1)*size])
				}
			}
			b.addCounts(counts)
		} else {
			for i, e := range b.entries[:b.badAt] {
				if e.PCR == rp.pcr {
					rp.extend(b.digests[i*size : (i+1)*size])
				}
				if !visit(e, b.errs[i]) {
					return nil
				}
			}
		}
		if b.badAt < b.n {
			return b.errs[b.badAt] // a *ParseError: the reader's, had it decoded the entry
		}
		if b.readErr != nil {
			return b.readErr
		}
		free <- b
	}
	return nil
}
