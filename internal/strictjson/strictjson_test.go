package strictjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

func TestCheck(t *testing.T) {
	good := []string{
		`{}`, `[]`, `1`, `"x"`, ` {"a":1,"b":{"a":2,"A2":[{"a":1},{"a":1}]}} `,
		`{"ima":{"log":{}},"imb":1}`, "{\"a\":1}\n",
	}
	for _, doc := range good {
		if err := Check([]byte(doc)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", doc, err)
		}
	}
	bad := map[string]string{
		"duplicate":                  `{"a":1,"a":2}`,
		"case variant":               `{"ima":{},"IMA":{}}`,
		"case variant deep":          `{"x":[{"y":{"log":1,"Log":2}}]}`,
		"escaped duplicate":          `{"a":1,"\u0061":2}`,
		"kelvin sign folds to k":     `{"k":1,"\u212a":2}`,
		"long s folds to s":          `{"s":1,"\u017f":2}`,
		"duplicate after many":       `{"a0":0,"a1":1,"a2":2,"a3":3,"a1":4}`,
		"trailing data":              `{} {}`,
		"trailing garbage":           `{}x`,
		"invalid UTF-8 in a string":  "{\"a\":\"\xff\"}",
		"invalid UTF-8 in a name":    "{\"\xff\":1}",
		"unterminated":               `{"a":1`,
		"empty":                      ``,
		"whitespace only":            `  `,
		"single quotes":              `{'a':1}`,
		"trailing comma":             `{"a":1,}`,
		"duplicate in second object": `[{"a":1},{"b":1,"B":2}]`,
	}
	for name, doc := range bad {
		err := Check([]byte(doc))
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Check(%q) = %v, want an *Error matching ErrInvalid", name, doc, err)
		}
	}
}

// TestCheckLinear: 100,000 members cost what a linear pass costs (a
// quadratic duplicate search took a minute). Measured, not timed: the
// allocations grow with the members, not with their square.
func TestCheckLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 100_000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strings.Repeat("x", i%7) + itoa(i) + `":1`)
	}
	b.WriteString(`,"m0":2}`)
	if err := Check([]byte(b.String())); err == nil {
		t.Fatal("duplicate m0 after 100,000 members accepted")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

type inner struct {
	Log string `json:"log"`
}

type doc struct {
	IMA  inner     `json:"ima"`
	When time.Time `json:"when"`
	Data []byte    `json:"data"`
	N    int       `json:"n"`
}

func TestUnmarshalExactNames(t *testing.T) {
	var d doc
	if err := Unmarshal([]byte(`{"IMA":{"log":"x"}}`), &d); err == nil {
		t.Fatal(`"IMA" decoded into the "ima" field`)
	}
	if err := Unmarshal([]byte(`{"ima":{"log":"x","extra":1}}`), &d); err == nil {
		t.Fatal("unknown member accepted")
	}
	if err := UnmarshalKnown([]byte(`{"ima":{"log":"x","extra":1}}`), &d); err != nil || d.IMA.Log != "x" {
		t.Fatalf("UnmarshalKnown: %v, %+v", err, d)
	}
}

// FuzzDifferential: a document Check accepts decodes to the same values
// with encoding/json (the standard decoder, which folds case and keeps the
// last duplicate) and with the strict reader, untyped and into a struct.
func FuzzDifferential(f *testing.F) {
	for _, s := range []string{
		`{"ima":{"log":"x"},"when":"2026-12-02T15:00:00Z","data":"AAE=","n":3}`,
		`{"ima":{"log":"x"},"IMA":{"log":"y"}}`, `{"Ima":{"Log":"x"}}`, `[1,2,{"a":null}]`, `{"n":1e2}`,
		`{"data":"AA\r\nE="}`, `{"n":-0}`, `{"n":1.0}`, `{"when":null,"data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if Check(data) != nil {
			return
		}
		var a, b any
		if err := json.Unmarshal(data, &a); err != nil {
			t.Fatalf("accepted by Check, refused by encoding/json: %v", err)
		}
		if err := jsonv2.Unmarshal(data, &b); err != nil {
			t.Fatalf("accepted by Check, refused by json v2: %v", err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("encoding/json reads %#v, json v2 %#v", a, b)
		}
		var s1, s2 doc
		if Unmarshal(data, &s2) != nil {
			return
		}
		if err := json.Unmarshal(data, &s1); err != nil {
			t.Fatalf("accepted by Unmarshal, refused by encoding/json: %v", err)
		}
		if !reflect.DeepEqual(s1, s2) {
			t.Fatalf("encoding/json reads %+v, Unmarshal %+v", s1, s2)
		}
	})
}

func TestCheckFind(t *testing.T) {
	doc := []byte(`{"a":1, "ima" : { "log": {"data" : "QUJD", "x":[1,{"data":2}]}, "data": {"y": [1, 2]} }, "predicate":{"z":"}"} }`)
	spans, err := CheckFind(doc, "/ima/log/data", "/ima/data", "/predicate", "/a", "/missing", "/ima/log/x/1/data")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"QUJD"`, `{"y": [1, 2]}`, `{"z":"}"}`, `1`, ``, `2`}
	for i, sp := range spans {
		got := ""
		if sp.Found {
			got = string(doc[sp.Start:sp.End])
		}
		if got != want[i] {
			t.Errorf("span %d = %q, want %q", i, got, want[i])
		}
	}
	nested := []byte(`{"_type":"x","predicate":{"ima":{"log":{"entries":1,"data":"QUJD"}},"build":{}},"z":1}`)
	spans, err = CheckFind(nested, "/predicate", "/predicate/ima/log/data", "/z")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`{"ima":{"log":{"entries":1,"data":"QUJD"}},"build":{}}`, `"QUJD"`, `1`} {
		if sp := spans[i]; !sp.Found || string(nested[sp.Start:sp.End]) != want {
			t.Errorf("nested span %d = %+v, want %s", i, sp, want)
		}
	}
	if _, err := CheckFind([]byte(`{"predicate":{"a":1,"A":2}}`), "/predicate"); err == nil {
		t.Error("a case variant inside a found value was accepted")
	}
}
