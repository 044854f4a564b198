package evidence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Entry is one record of an IMA measurement log. The raw bytes (TemplateHash,
// TemplateData, Fields) are kept as logged; the decoded fields are views of
// them. Nothing in an Entry is trusted: only a replay that reaches a quoted
// PCR value vouches for the entries it covered.
type Entry struct {
	Index  int   // position in the log, 0-based
	Offset int64 // byte offset of the record in the input (of its line, for ascii input)
	Len    int   // length of the record in bytes (of its line with the newline, for ascii input)

	PCR          uint32
	TemplateHash []byte // as logged: sha1 (20 bytes), or the bank's size in a per-bank log
	TemplateName string
	// TemplateData is the template data in binary-log form. For template
	// "ima" it is digest(20) | u32 name length | name, as the binary log
	// carries it; for every other template, the length-prefixed fields.
	TemplateData []byte

	// Decoded fields; empty when the template lacks them.
	FileDigestAlg string // "sha256" from "sha256:" of d-ng; "sha1" for template "ima"
	FileDigest    []byte
	Path          string // the n / n-ng field without its NUL
	Signature     []byte // sig (ima-sig, ima-modsig)
	Buffer        []byte // buf (ima-buf)
	ModsigAlg     string // d-modsig algorithm (ima-modsig)
	ModsigDigest  []byte // d-modsig digest (ima-modsig)
	Modsig        []byte // modsig (ima-modsig)

	// Fields is the raw field list (without length prefixes), for every
	// template; the only decoding of templates this package does not know.
	Fields [][]byte

	order   byteOrder
	raw     []byte        // backing store of TemplateHash and TemplateData, reused by replay
	pending pendingDecode // set: Fields and the decoded fields are still to be filled
}

// Violation reports whether the entry records a measurement violation
// (an all-zero template hash, extended into the PCR as all 0xff).
func (e *Entry) Violation() bool {
	if n := len(e.TemplateHash); n > 0 && n <= len(zeroHash) {
		return bytes.Equal(e.TemplateHash, zeroHash[:n])
	}
	for _, b := range e.TemplateHash {
		if b != 0 {
			return false
		}
	}
	return len(e.TemplateHash) > 0
}

// zeroHash is a violation's template hash, for every bank's size.
var zeroHash [64]byte

// TemplateDigest returns the bank's hash of the entry's template data, as
// the kernel computes it: over the template data as logged, except for
// template "ima", hashed as digest | name zero-padded to 256 bytes.
// For the sha1 bank this is the template hash of a genuine sha1 log.
func (e *Entry) TemplateDigest(b Bank) []byte {
	return b.sum(make([]byte, 0, b.Size()), e.hashInput(nil))
}

// hashInput returns the bytes the template hash covers, using buf (276
// bytes or more) for template "ima" when given.
func (e *Entry) hashInput(buf []byte) []byte {
	if e.TemplateName != templateIMA || len(e.Fields) != 2 {
		return e.TemplateData
	}
	const n = sha1Len + imaNameMax + 1
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	copy(buf, e.Fields[0])
	clear(buf[sha1Len:])
	copy(buf[sha1Len:], e.Fields[1])
	return buf
}

const (
	templateIMA = "ima"
	sha1Len     = 20
	imaNameMax  = 255 // IMA_EVENT_NAME_LEN_MAX
	maxNameLen  = 255 // template names are short ("ima-modsig"); custom formats a little longer
)

// fieldKind is how the kernel prints a template field in the ascii log
// (enum data_formats in security/integrity/ima/ima_template_lib.c).
type fieldKind int

const (
	kindDigest         fieldKind = iota // hex
	kindDigestWithAlgo                  // "algo:" NUL digest, printed algo:hex
	kindString                          // NUL-terminated string, printed as is
	kindHex                             // hex
	kindUint                            // integer of 1, 2, 4 or 8 bytes, printed %u
)

type fieldDef struct {
	id   string
	kind fieldKind
	size int // for kindUint: the size rebuilt from ascii
}

// fieldDefs are the template fields of Linux (ima_template.c supported_fields).
var fieldDefs = map[string]fieldDef{
	"d":            {"d", kindDigest, 0},
	"n":            {"n", kindString, 0},
	"d-ng":         {"d-ng", kindDigestWithAlgo, 0},
	"d-ngv2":       {"d-ngv2", kindDigestWithAlgo, 0},
	"n-ng":         {"n-ng", kindString, 0},
	"sig":          {"sig", kindHex, 0},
	"buf":          {"buf", kindHex, 0},
	"d-modsig":     {"d-modsig", kindDigestWithAlgo, 0},
	"modsig":       {"modsig", kindHex, 0},
	"evmsig":       {"evmsig", kindHex, 0},
	"iuid":         {"iuid", kindUint, 4},
	"igid":         {"igid", kindUint, 4},
	"imode":        {"imode", kindUint, 2},
	"xattrnames":   {"xattrnames", kindString, 0},
	"xattrlengths": {"xattrlengths", kindHex, 0},
	"xattrvalues":  {"xattrvalues", kindHex, 0},
}

// builtinTemplates are the kernel's named templates (ima_template.c).
var builtinTemplates = map[string]string{
	"ima":        "d|n",
	"ima-ng":     "d-ng|n-ng",
	"ima-ngv2":   "d-ngv2|n-ng",
	"ima-sig":    "d-ng|n-ng|sig",
	"ima-sigv2":  "d-ngv2|n-ng|sig",
	"ima-buf":    "d-ng|n-ng|buf",
	"ima-modsig": "d-ng|n-ng|sig|d-modsig|modsig",
	"evm-sig":    "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode",
}

// templateFields returns the field definitions of a template name: a
// built-in template, or a custom format ("d-ng|n-ng|sig"), which the kernel
// logs as the name of a template given by ima_template_fmt. ok is false for
// templates this package does not know (such as ima-cgpath). A built-in
// name decodes only with the kernel's field list for it; a custom format
// naming known fields decodes by the same content rules (fieldRules), and
// err is set for a format that could be read two ways: a field named twice,
// or two name fields or two file digest fields (the path and digest a
// policy checks must be one).
func templateFields(name string) (defs []fieldDef, ok bool, err error) {
	format, builtin := builtinTemplates[name]
	if !builtin {
		format = name
	}
	ids := strings.Split(format, "|")
	defs = make([]fieldDef, 0, len(ids))
	names, digests := 0, 0
	for i, id := range ids {
		d, known := fieldDefs[id]
		if !known {
			return nil, false, nil
		}
		if slices.Contains(ids[:i], id) {
			err = fmt.Errorf("%w: template format %q names field %s twice", ErrMalformed, name, id)
		}
		switch id {
		case "n", "n-ng":
			names++
		case "d", "d-ng", "d-ngv2":
			digests++
		}
		defs = append(defs, d)
	}
	if err == nil && (names > 1 || digests > 1) {
		err = fmt.Errorf("%w: template format %q has %d name and %d file digest fields (at most one each)", ErrMalformed, name, names, digests)
	}
	return defs, true, err
}

// TemplateFields returns the field ids of a template name as the reader
// decodes it ("ima-ng": ["d-ng", "n-ng"]; a custom format "d-ng|n-ng|sig"
// by its own ids), and false for a template it keeps as raw fields only
// (such as ima-cgpath) or refuses (a custom format naming a field twice, or
// two name or file digest fields). The kernel does not hash the template
// name, so a verifier must not trust an entry's template name beyond this
// decoding: the reader checks every known field's content (see NewReader).
func TemplateFields(name string) ([]string, bool) {
	defs, ok, err := templateFields(name)
	if !ok || err != nil {
		return nil, false
	}
	ids := make([]string, len(defs))
	for i, d := range defs {
		ids[i] = d.id
	}
	return ids, true
}

// splitFields splits length-prefixed template data into its fields.
// It returns the offset of the first bad length on failure.
func splitFields(fields [][]byte, data []byte, order byteOrder, hint int) ([][]byte, int, bool) {
	if fields == nil {
		fields = make([][]byte, 0, max(hint, 1))
	}
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			return nil, off, false
		}
		n := uint32In(order, data[off:])
		off += 4
		if uint64(n) > uint64(len(data)-off) {
			return nil, off - 4, false
		}
		fields = append(fields, data[off:off+int(n)])
		off += int(n)
	}
	return fields, 0, true
}

// uint32In reads a uint32 in order (binary.LittleEndian or
// binary.BigEndian) without a call through the interface, which costs more
// than the read in the reader's per-record loops.
func uint32In(order byteOrder, b []byte) uint32 {
	if order == binary.BigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// decodeFields checks the content of every field of a known template and
// fills the decoded fields of e from e.Fields. It returns the index of the
// first field that breaks its content rule (fieldRules) and why.
func (e *Entry) decodeFields(defs []fieldDef, lean bool) (int, error) {
	if len(defs) != len(e.Fields) {
		return len(defs), fmt.Errorf("%d fields, the template has %d", len(e.Fields), len(defs))
	}
	for i, d := range defs {
		f := e.Fields[i]
		switch d.id {
		case "d":
			if len(f) != sha1Len {
				return i, fmt.Errorf("d holds %d bytes, want a 20-byte digest", len(f))
			}
			e.FileDigestAlg, e.FileDigest = "sha1", f
		case "d-ng", "d-ngv2":
			alg, dig, err := splitDigestWithAlgo(f, d.id == "d-ngv2", false)
			if err != nil {
				return i, fmt.Errorf("%s: %w", d.id, err)
			}
			e.FileDigestAlg, e.FileDigest = alg, dig
		case "n", "n-ng":
			p, err := nameField(f)
			if err != nil {
				return i, fmt.Errorf("%s: %w", d.id, err)
			}
			if !lean {
				e.Path = string(p)
			}
		case "sig":
			e.Signature = f
		case "buf":
			e.Buffer = f
		case "d-modsig":
			alg, dig, err := splitDigestWithAlgo(f, false, true)
			if err != nil {
				return i, fmt.Errorf("%s: %w", d.id, err)
			}
			e.ModsigAlg, e.ModsigDigest = alg, dig
		case "modsig":
			e.Modsig = f
		case "iuid", "igid", "imode":
			if n := len(f); n != 0 && n != 2 && (n != 4 || d.id == "imode") {
				return i, fmt.Errorf("%s holds %d bytes, want an integer of %d bytes (or none)", d.id, n, d.size)
			}
		}
	}
	return 0, nil
}

// nameField checks an n or n-ng field as the kernel writes it in
// length-prefixed template data (ima_write_template_field_data,
// DATA_FMT_STRING): the name and one NUL, at its end, and no other NUL. It
// returns the name without the NUL.
func nameField(f []byte) ([]byte, error) {
	if len(f) == 0 || f[len(f)-1] != 0 {
		return nil, errors.New("not NUL-terminated")
	}
	if i := bytes.IndexByte(f, 0); i != len(f)-1 {
		return nil, fmt.Errorf("a NUL at byte %d of %d: a name holds no NUL", i, len(f))
	}
	return f[:len(f)-1], nil
}

// imaName checks the name of a template "ima" record (its binary form
// carries the name without a NUL, and the template hash covers it
// zero-padded): a NUL inside would end the name for the kernel, not for a
// reader of the path.
func imaName(f []byte) error {
	if i := bytes.IndexByte(f, 0); i >= 0 {
		return fmt.Errorf("a NUL at byte %d of %d: a name holds no NUL", i, len(f))
	}
	return nil
}

// hashAlgSizes are the kernel's hash algorithm names (hash_algo_name in
// crypto/hash_info.c) with their digest sizes: a d-ng digest must have
// exactly its algorithm's size.
var hashAlgSizes = map[string]int{
	"md4": 16, "md5": 16, "sha1": 20, "rmd160": 20, "rmd256": 32, "rmd320": 40,
	"sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64,
	"wp256": 32, "wp384": 48, "wp512": 64, "tgr128": 16, "tgr160": 20, "tgr192": 24,
	"sm3": 32, "streebog256": 32, "streebog512": 64,
	"sha3-256": 32, "sha3-384": 48, "sha3-512": 64,
}

// splitDigestWithAlgo checks and splits a digest-with-algorithm field as
// the kernel writes it (ima_eventdigest_init_common): "alg:" NUL digest for
// d-ng and d-modsig, "type:alg:" NUL digest for d-ngv2 (type ima or
// verity), with a known algorithm and a digest of exactly its size (a
// violation's digest is all zeros of that size). Only d-modsig may be empty
// (no appended signature).
func splitDigestWithAlgo(f []byte, typed, mayBeEmpty bool) (alg string, digest []byte, err error) {
	if len(f) == 0 {
		if mayBeEmpty {
			return "", nil, nil
		}
		return "", nil, errors.New("empty, want alg: NUL digest")
	}
	i := bytes.IndexByte(f, 0)
	if i < 1 || f[i-1] != ':' {
		return "", nil, errors.New("no \"alg:\" and NUL before the digest")
	}
	prefix := f[:i-1]
	if typed {
		t, a, ok := bytes.Cut(prefix, []byte(":"))
		if !ok || (string(t) != "ima" && string(t) != "verity") {
			return "", nil, fmt.Errorf("prefix %q, want ima:ALG: or verity:ALG:", prefix)
		}
		prefix = a
	}
	alg, size, known := hashAlg(prefix)
	if !known {
		return "", nil, fmt.Errorf("%w: digest algorithm %q", ErrUnknownAlgorithm, prefix)
	}
	if len(f)-i-1 != size {
		return "", nil, fmt.Errorf("%s digest of %d bytes, want %d", prefix, len(f)-i-1, size)
	}
	return alg, f[i+1:], nil
}

// hashAlg returns the hash algorithm named b (hashAlgSizes) and its digest
// size, without a map lookup or an allocation for the common ones.
func hashAlg(b []byte) (string, int, bool) {
	switch string(b) {
	case "sha256":
		return "sha256", 32, true
	case "sha1":
		return "sha1", 20, true
	case "sha384":
		return "sha384", 48, true
	case "sha512":
		return "sha512", 64, true
	case "md5":
		return "md5", 16, true
	case "sm3":
		return "sm3", 32, true
	}
	size, ok := hashAlgSizes[string(b)]
	if !ok {
		return "", 0, false
	}
	return string(b), size, true
}
