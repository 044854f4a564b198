package verify

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/strictjson"
)

const testStatement = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` +
	"0000000000000000000000000000000000000000000000000000000000000000" + `"}}],"predicateType":"x","predicate":{"k":1}}`

// TestParseStatementStrict: the statement is read one way, the way jq,
// Python and the JSON Schema read it: a member named twice, or twice but
// for case, at any level, is refused (Go's encoding/json would fold the
// case and keep the last).
func TestParseStatementStrict(t *testing.T) {
	if _, err := parseStatement([]byte(testStatement), 10); err != nil {
		t.Fatalf("good statement: %v", err)
	}
	bad := map[string]string{
		"_type twice":                strings.Replace(testStatement, `"subject"`, `"_type":"https://in-toto.io/Statement/v1","subject"`, 1),
		"predicate and Predicate":    strings.Replace(testStatement, `"predicate":`, `"Predicate":{"k":2},"predicate":`, 1),
		"predicateType case":         strings.Replace(testStatement, `"predicateType"`, `"PredicateType":"y","predicateType"`, 1),
		"duplicate in a subject":     strings.Replace(testStatement, `"name":"a"`, `"name":"a","name":"b"`, 1),
		"case variant in a digest":   strings.Replace(testStatement, `{"sha256"`, `{"SHA256":"11","sha256"`, 1),
		"duplicate in the predicate": strings.Replace(testStatement, `{"k":1}`, `{"k":1,"K":2}`, 1),
		"data after the statement":   testStatement + ` {}`,
	}
	for name, doc := range bad {
		if _, err := parseStatement([]byte(doc), 10); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// TestDecodeTPMIMAStrict: names exact, unknown members refused at every
// level, duplicates refused.
func TestDecodeTPMIMAStrict(t *testing.T) {
	good := `{"tpm":{"mode":"sim"},"ima":{"present":true,"log":{"encoding":"e","entries":1,"sha256":"00","data":"QUJD"}},"build":{"argv":["x"],"exitStatus":0}}`
	p, logB64, err := decodeTPMIMA([]byte(good))
	if err != nil || string(logB64) != "QUJD" || p.TPM.Mode != "sim" {
		t.Fatalf("good predicate: %+v, %q, %v", p, logB64, err)
	}
	for name, doc := range map[string]string{
		"IMA beside ima":      strings.Replace(good, `"build"`, `"IMA":{"present":false},"build"`, 1),
		"IMA instead of ima":  strings.Replace(good, `"ima"`, `"IMA"`, 1),
		"Mode for mode":       strings.Replace(good, `"mode"`, `"Mode"`, 1),
		"unknown top member":  strings.Replace(good, `"build"`, `"extra":1,"build"`, 1),
		"unknown deep member": strings.Replace(good, `"entries":1`, `"entries":1,"size":3`, 1),
		"data twice":          strings.Replace(good, `"data":"QUJD"`, `"data":"QUJD","data":"REVG"`, 1),
		"Data beside data":    strings.Replace(good, `"data":"QUJD"`, `"Data":"REVG","data":"QUJD"`, 1),
		"exitStatus twice":    strings.Replace(good, `"exitStatus":0`, `"exitStatus":1,"exitStatus":0`, 1),
	} {
		if _, _, err := decodeTPMIMA([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestStrictReadingLinear: 100,000 extra members (about 2 MB) are read in
// one linear pass; the duplicate at the end is still found.
func TestStrictReadingLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"tpm":{"mode":"sim"`)
	for i := range 100_000 {
		b.WriteString(`,"x` + strconv.Itoa(i) + `":0`)
	}
	b.WriteString(`,"x7":1}}`)
	_, _, err := decodeTPMIMA([]byte(b.String()))
	if !errors.Is(err, strictjson.ErrInvalid) {
		t.Fatalf("err = %v, want strictjson.ErrInvalid", err)
	}
}
