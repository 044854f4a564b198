package evidence

import (
	"bytes"
	"encoding/binary"
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

	order byteOrder
	// Set by the reader for decodeFramed: the template's field definitions
	// (known: the template is one this package decodes) and the offset of
	// the template data from Offset, for errors.
	defs       []fieldDef
	known      bool
	dataOffset int64
}

// Violation reports whether the entry records a measurement violation
// (an all-zero template hash, extended into the PCR as all 0xff).
func (e *Entry) Violation() bool {
	for _, b := range e.TemplateHash {
		if b != 0 {
			return false
		}
	}
	return len(e.TemplateHash) > 0
}

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
// templates this package does not know (such as ima-cgpath).
func templateFields(name string) ([]fieldDef, bool) {
	format, ok := builtinTemplates[name]
	if !ok {
		format = name
	}
	ids := strings.Split(format, "|")
	defs := make([]fieldDef, 0, len(ids))
	for _, id := range ids {
		d, ok := fieldDefs[id]
		if !ok {
			return nil, false
		}
		defs = append(defs, d)
	}
	return defs, true
}

// TemplateFields returns the field ids of a template name as the reader
// decodes it ("ima-ng": ["d-ng", "n-ng"]; a custom format "d-ng|n-ng|sig"
// by its own ids), and false for a template it keeps as raw fields only
// (such as ima-cgpath). The kernel does not hash the template name, so a
// verifier must not trust an entry's template name beyond this decoding.
func TemplateFields(name string) ([]string, bool) {
	defs, ok := templateFields(name)
	if !ok {
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
func splitFields(fields [][]byte, data []byte, order binary.ByteOrder, hint int) ([][]byte, int, bool) {
	if fields == nil {
		fields = make([][]byte, 0, max(hint, 1))
	}
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			return nil, off, false
		}
		n := order.Uint32(data[off:])
		off += 4
		if uint64(n) > uint64(len(data)-off) {
			return nil, off - 4, false
		}
		fields = append(fields, data[off:off+int(n)])
		off += int(n)
	}
	return fields, 0, true
}

// decodeFields fills the decoded fields of e from e.Fields for a known
// template. It reports the index of a field that does not parse.
func (e *Entry) decodeFields(defs []fieldDef, lean bool) (int, bool) {
	if len(defs) != len(e.Fields) {
		return len(e.Fields), false
	}
	for i, d := range defs {
		f := e.Fields[i]
		switch d.id {
		case "d":
			e.FileDigestAlg, e.FileDigest = "sha1", f
		case "d-ng", "d-ngv2":
			alg, dig, ok := splitDigestWithAlgo(f)
			if !ok {
				return i, false
			}
			e.FileDigestAlg, e.FileDigest = alg, dig
		case "n", "n-ng":
			if !lean {
				e.Path = cString(f)
			}
		case "sig":
			e.Signature = f
		case "buf":
			e.Buffer = f
		case "d-modsig":
			alg, dig, ok := splitDigestWithAlgo(f)
			if !ok {
				return i, false
			}
			e.ModsigAlg, e.ModsigDigest = alg, dig
		case "modsig":
			e.Modsig = f
		}
	}
	return 0, true
}

// splitDigestWithAlgo splits a d-ng field: "algo:" NUL digest. An empty
// field (no digest) is valid; a field without the "algo:" NUL prefix is an
// old-style bare digest.
func splitDigestWithAlgo(f []byte) (alg string, digest []byte, ok bool) {
	if len(f) == 0 {
		return "", nil, true
	}
	i := bytes.IndexByte(f, 0)
	if i < 0 {
		return "", f, true
	}
	if i == 0 || f[i-1] != ':' {
		return "", nil, false
	}
	return internAlg(f[:i-1]), f[i+1:], true
}

// internAlg returns the algorithm name, without allocating for common ones.
func internAlg(b []byte) string {
	switch string(b) {
	case "sha1":
		return "sha1"
	case "sha256":
		return "sha256"
	case "sha384":
		return "sha384"
	case "sha512":
		return "sha512"
	case "md5":
		return "md5"
	case "sm3":
		return "sm3"
	}
	return string(b)
}

// cString returns f up to its first NUL.
func cString(f []byte) string {
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	return string(f)
}
