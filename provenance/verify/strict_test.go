package verify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/internal/strictjson"
	"github.com/attest-build/attest-build/predicates"
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

// FuzzPredicateDifferential: any TPM/IMA predicate the verifier's reading
// accepts decodes to the same values with encoding/json, the reader most
// Go tools use (ima.log.data aside, which the verifier hands on as text:
// it must be the same text).
func FuzzPredicateDifferential(f *testing.F) {
	f.Add([]byte(`{"tpm":{"mode":"sim","manufacturer":"IBM"},"attestationKey":{"publicKeyPem":"p","tpmtPublic":"AAE=","fingerprint":"sha256:00"},` +
		`"nonce":{"start":"00","construction":"subject-sha256"},"quotes":{"start":{"attest":"AA==","signature":"AA==","pcrs":[{"bank":"sha256","index":10,"value":"00"}]},"end":{"attest":"AA==","signature":"AA==","pcrs":[]}},` +
		`"ima":{"present":true,"pcr":10,"bank":"sha256","template":"ima-ng","log":{"encoding":"e","entries":1,"sha256":"00","data":"QUJD"},"window":{"start":0,"end":1,"entries":[{"index":0,"template":"ima-ng","path":"/a"}]}},` +
		`"build":{"argv":["make"],"workingDirectory":"/w","exitStatus":0,"startedOn":"2026-12-02T10:00:00Z","finishedOn":"2026-12-02T10:00:01.5+01:00"}}`))
	f.Add([]byte(`{"tpm":{"mode":"sim"},"TPM":{"mode":"device"}}`))
	f.Add([]byte(`{"build":{"exitStatus":1,"exitstatus":0}}`))
	f.Add([]byte(`{"ima":{"log":{"data":"QU\u004aD"}}}`))
	f.Add([]byte(`{"attestationKey":{"tpmtPublic":"AA\r\nE="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, logB64, err := decodeTPMIMA(data)
		if err != nil {
			return
		}
		var std predicates.TPMIMA
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("accepted by the verifier, refused by encoding/json: %v", err)
		}
		if std.IMA.Log != nil {
			if string(std.IMA.Log.Data) != mustStdB64(t, logB64) {
				t.Fatalf("ima.log.data: encoding/json reads %q, the verifier hands on %q", std.IMA.Log.Data, logB64)
			}
			std.IMA.Log.Data, p.IMA.Log.Data = nil, nil
		}
		if !reflect.DeepEqual(&std, p) {
			t.Fatalf("encoding/json reads %+v\nthe verifier %+v", std, *p)
		}
	})
}

func mustStdB64(t *testing.T, b []byte) string {
	t.Helper()
	d, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(d)
}

// TestParseStatementFindsLog: the statement's one strict pass finds the
// predicate's ima.log.data, handed to the replay without a second pass.
func TestParseStatementFindsLog(t *testing.T) {
	doc := strings.Replace(testStatement, `"predicate":{"k":1}`, `"predicate":{"tpm":{"mode":"sim"},"ima":{"present":true,"log":{"encoding":"e","entries":1,"sha256":"00","data":"QUJD"}},"build":{"argv":["x"]}}`, 1)
	s, err := parseStatement([]byte(doc), 10)
	if err != nil {
		t.Fatal(err)
	}
	_, logB64, err := decodeCheckedTPMIMA(s.Predicate, s.logData)
	if err != nil || string(logB64) != "QUJD" {
		t.Fatalf("log %q, %v", logB64, err)
	}
}
