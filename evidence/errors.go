package evidence

import (
	"errors"
	"fmt"
)

// Sentinel errors. A *ParseError wraps one of the first group; test with
// errors.Is.
var (
	// ErrTruncated: the input ends inside a record.
	ErrTruncated = errors.New("truncated record")
	// ErrTrailingBytes: the input ends with a fragment shorter than a
	// record header after the last whole record.
	ErrTrailingBytes = errors.New("trailing bytes after the last whole record")
	// ErrLengthTooLarge: a length field claims more than the format allows
	// (template name over 255 bytes, template data over the record limit).
	ErrLengthTooLarge = errors.New("length field too large")
	// ErrUnknownAlgorithm: a digest algorithm or template hash size no bank
	// matches.
	ErrUnknownAlgorithm = errors.New("unknown algorithm")
	// ErrUnknownTemplate: an ascii line names a template whose fields
	// cannot be rebuilt (binary logs keep unknown templates as raw fields).
	ErrUnknownTemplate = errors.New("unknown template")
	// ErrMalformed: a field's content does not follow its format.
	ErrMalformed = errors.New("malformed field")
	// ErrTooManyEntries: the log has more entries than WithMaxEntries allows.
	ErrTooManyEntries = errors.New("too many entries")

	// ErrTemplateHashMismatch: an entry's logged template hash is not the
	// hash of its template data. A *TemplateHashError wraps it.
	ErrTemplateHashMismatch = errors.New("template hash does not match template data")
	// ErrNoPrefixMatch: no prefix of the log replays to the PCR value.
	ErrNoPrefixMatch = errors.New("no prefix of the log replays to the PCR value")
	// ErrDigestSize: a PCR value whose size is not the bank's digest size.
	ErrDigestSize = errors.New("digest size does not match the bank")
)

// ParseError reports malformed input: which entry, where, which field.
type ParseError struct {
	Index  int    // index of the entry being read (0-based)
	Offset int64  // byte offset in the (decompressed) input where the field starts
	Field  string // the field being read, e.g. "template_name_len"
	Err    error  // one of the sentinel errors above, possibly wrapped
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("entry %d at byte offset %d: %s: %v", e.Index, e.Offset, e.Field, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// TemplateHashError reports an entry whose logged template hash differs from
// the hash of its template data.
type TemplateHashError struct {
	Index    int
	Offset   int64
	Logged   []byte // the template hash in the log
	Computed []byte // the same algorithm's hash of the template data
}

func (e *TemplateHashError) Error() string {
	return fmt.Sprintf("entry %d at byte offset %d: template hash mismatch: logged %x, template data hashes to %x",
		e.Index, e.Offset, e.Logged, e.Computed)
}

// Is makes errors.Is(err, ErrTemplateHashMismatch) true.
func (e *TemplateHashError) Is(target error) bool { return target == ErrTemplateHashMismatch }

// NoPrefixMatchError names the PCR values that no prefix of the log reaches.
type NoPrefixMatchError struct {
	Bank    Bank
	PCR     uint32
	Values  [][]byte // the values not reached
	Entries int      // entries scanned
	Final   []byte   // the value after all scanned entries
}

func (e *NoPrefixMatchError) Error() string {
	return fmt.Sprintf("%v: %s PCR %d value(s) %x not reached by any prefix of the %d entries (full replay gives %x)",
		ErrNoPrefixMatch, e.Bank, e.PCR, e.Values, e.Entries, e.Final)
}

// Is makes errors.Is(err, ErrNoPrefixMatch) true.
func (e *NoPrefixMatchError) Is(target error) bool { return target == ErrNoPrefixMatch }
