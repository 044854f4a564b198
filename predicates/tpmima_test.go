package predicates_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/schemas"
)

func validPredicate() predicates.TPMIMA {
	q := predicates.Quote{
		Attest:    []byte{0xff, 'T', 'C', 'G', 0x80, 0x18},
		Signature: []byte{0x00, 0x18},
		PCRs:      []predicates.PCR{{Bank: "sha256", Index: 10, Value: strings.Repeat("ab", 32)}},
	}
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	return predicates.TPMIMA{
		TPM: predicates.TPM{Mode: predicates.ModeSwtpm, Manufacturer: "IBM", FirmwareVersion: "20191023.0"},
		AttestationKey: predicates.AttestationKey{
			PublicKeyPEM: "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
			TPMTPublic:   []byte{0, 0x23, 0, 0x0b},
			Fingerprint:  "sha256:" + strings.Repeat("0f", 32),
		},
		Nonce:  predicates.Nonce{Start: strings.Repeat("01", 32), Construction: predicates.NonceSingleSubject},
		Quotes: predicates.Quotes{Start: q, End: q},
		IMA: predicates.IMA{
			Present: true, PCR: 10, Bank: "sha256", Template: "ima-ng",
			Log: &predicates.IMALog{Encoding: predicates.IMALogEncoding, Entries: 3, SHA256: strings.Repeat("cd", 32), Data: []byte{0x1f, 0x8b}},
			Window: &predicates.Window{Start: 1, End: 3, Entries: []predicates.WindowEntry{
				{Index: 1, Template: "ima-ng", DigestAlg: "sha256", Digest: strings.Repeat("ee", 32), Path: "/usr/bin/make"},
				{Index: 2, Template: "ima-ng", Violation: true, Path: "/tmp/x"},
			}},
		},
		Build: predicates.Build{Argv: []string{"make"}, WorkingDirectory: "/src", StartedOn: t0, FinishedOn: t0.Add(time.Second)},
	}
}

// incremental makes p continue a baseline of 1 entry: its log holds
// entries 1 and 2, the window [1, 3).
func incremental(p *predicates.TPMIMA) {
	p.IMA.Baseline = &predicates.IMABaseline{Digest: "sha256:" + strings.Repeat("ab", 32), Entries: 1, PCRValue: strings.Repeat("cd", 32)}
	p.IMA.Log.First, p.IMA.Log.Entries = 1, 2
	p.IMA.Window.Entries = nil
}

// An attestation that continues a baseline is valid by Validate and the
// schema.
func TestValidIncrementalPredicate(t *testing.T) {
	p := validPredicate()
	incremental(&p)
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := schemas.ValidateTPMIMA(p); err != nil {
		t.Fatalf("schema: %v", err)
	}
}

func TestSchemaIDIsPredicateType(t *testing.T) {
	var s struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(schemas.TPMIMAv01, &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != predicates.TPMIMAType {
		t.Fatalf("schema $id = %q, predicate type = %q", s.ID, predicates.TPMIMAType)
	}
}

func TestValidPredicate(t *testing.T) {
	p := validPredicate()
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := schemas.ValidateTPMIMA(p); err != nil {
		t.Fatalf("schema: %v", err)
	}
	absent := validPredicate()
	absent.IMA = predicates.IMA{Present: false, Reason: "no /sys/kernel/security/ima/binary_runtime_measurements"}
	if err := absent.Validate(); err != nil {
		t.Fatalf("Validate absent IMA: %v", err)
	}
	if err := schemas.ValidateTPMIMA(absent); err != nil {
		t.Fatalf("schema absent IMA: %v", err)
	}
}

// Each mutation breaks the predicate; Validate names the field, and the
// schema refuses it too where the schema can express the rule.
func TestInvalidPredicates(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(*predicates.TPMIMA)
		field     string
		schemaToo bool
	}{
		{"no mode", func(p *predicates.TPMIMA) { p.TPM.Mode = "" }, "tpm.mode", true},
		{"unknown mode", func(p *predicates.TPMIMA) { p.TPM.Mode = "hardware" }, "tpm.mode", true},
		{"no AK PEM", func(p *predicates.TPMIMA) { p.AttestationKey.PublicKeyPEM = "" }, "attestationKey.publicKeyPem", true},
		{"no AK TPMT", func(p *predicates.TPMIMA) { p.AttestationKey.TPMTPublic = nil }, "attestationKey.tpmtPublic", false},
		{"start nonce not hex", func(p *predicates.TPMIMA) { p.Nonce.Start = "zz" }, "nonce.start", true},
		{"start nonce too long", func(p *predicates.TPMIMA) { p.Nonce.Start = strings.Repeat("00", 33) }, "nonce.start", true},
		{"unknown construction", func(p *predicates.TPMIMA) { p.Nonce.Construction = "sha1" }, "nonce.construction", true},
		{"no end attest", func(p *predicates.TPMIMA) { p.Quotes.End.Attest = nil }, "quotes.end.attest", false},
		{"no start signature", func(p *predicates.TPMIMA) { p.Quotes.Start.Signature = nil }, "quotes.start.signature", false},
		{"no PCRs", func(p *predicates.TPMIMA) { p.Quotes.End.PCRs = nil }, "quotes.end.pcrs", true},
		{"PCR index", func(p *predicates.TPMIMA) {
			p.Quotes.End.PCRs = []predicates.PCR{{Bank: "sha256", Index: 24, Value: "00"}}
		}, "quotes.end.pcrs[0].index", true},
		{"PCR value", func(p *predicates.TPMIMA) {
			p.Quotes.Start.PCRs = []predicates.PCR{{Bank: "sha256", Index: 1, Value: "xyz"}}
		}, "quotes.start.pcrs[0].value", true},
		{"absent IMA without reason", func(p *predicates.TPMIMA) { p.IMA = predicates.IMA{} }, "ima.reason", true},
		{"absent IMA with log", func(p *predicates.TPMIMA) { p.IMA.Present = false; p.IMA.Reason = "x" }, "ima.present", true},
		{"no bank", func(p *predicates.TPMIMA) { p.IMA.Bank = "" }, "ima.bank", true},
		{"no log", func(p *predicates.TPMIMA) { p.IMA.Log = nil }, "ima.log", true},
		{"log encoding", func(p *predicates.TPMIMA) { p.IMA.Log.Encoding = "base64" }, "ima.log.encoding", true},
		{"no window", func(p *predicates.TPMIMA) { p.IMA.Window = nil }, "ima.window", true},
		{"window end before start", func(p *predicates.TPMIMA) { p.IMA.Window.End = 0 }, "ima.window", false},
		{"window past log", func(p *predicates.TPMIMA) { p.IMA.Window.End = 4 }, "ima.window", false},
		{"no argv", func(p *predicates.TPMIMA) { p.Build.Argv = nil }, "build.argv", false},
		{"log first without a baseline", func(p *predicates.TPMIMA) { p.IMA.Log.First = 1 }, "ima.log.first", false},
		{"baseline digest", func(p *predicates.TPMIMA) { incremental(p); p.IMA.Baseline.Digest = "sha256:00" }, "ima.baseline.digest", true},
		{"baseline at entry 0", func(p *predicates.TPMIMA) { incremental(p); p.IMA.Baseline.Entries = 0 }, "ima.baseline.entries", true},
		{"baseline PCR value", func(p *predicates.TPMIMA) { incremental(p); p.IMA.Baseline.PCRValue = "x" }, "ima.baseline.pcrValue", true},
		{"log first not the baseline's position", func(p *predicates.TPMIMA) { incremental(p); p.IMA.Log.First = 2 }, "ima.log.first", false},
		{"window before the baseline", func(p *predicates.TPMIMA) { incremental(p); p.IMA.Window.Start = 0 }, "ima.window.start", false},
		{"window entries beside a baseline", func(p *predicates.TPMIMA) {
			incremental(p)
			p.IMA.Window.Entries = []predicates.WindowEntry{{Index: 1, Template: "ima-ng"}}
		}, "ima.window.entries", false},
		{"absent IMA with a baseline", func(p *predicates.TPMIMA) {
			incremental(p)
			p.IMA = predicates.IMA{Present: false, Reason: "x", Baseline: p.IMA.Baseline}
		}, "ima.present", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPredicate()
			tt.mutate(&p)
			err := p.Validate()
			var fe *predicates.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Fatalf("Validate names field %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if tt.schemaToo {
				if err := schemas.ValidateTPMIMA(p); err == nil {
					t.Fatalf("schema accepted a predicate with a bad %s", tt.field)
				}
			}
		})
	}
}

// TestSchemaMatchesGoType walks the Go type and the schema together: every
// JSON field of the Go type is a schema property and the reverse.
func TestSchemaMatchesGoType(t *testing.T) {
	schemaMatchesType(t, schemas.TPMIMAv01, reflect.TypeOf(predicates.TPMIMA{}))
	schemaMatchesType(t, schemas.BaselineV01, reflect.TypeOf(predicates.Baseline{}))
}

func schemaMatchesType(t *testing.T, doc []byte, root reflect.Type) {
	var schema map[string]any
	if err := json.Unmarshal(doc, &schema); err != nil {
		t.Fatal(err)
	}
	defs, _ := schema["$defs"].(map[string]any)
	var walk func(path string, typ reflect.Type, node map[string]any)
	walk = func(path string, typ reflect.Type, node map[string]any) {
		if ref, ok := node["$ref"].(string); ok {
			node, _ = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8 {
			if typ.Kind() == reflect.Slice {
				node, _ = node["items"].(map[string]any)
			}
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeOf(time.Time{}) {
			return
		}
		props, _ := node["properties"].(map[string]any)
		seen := map[string]bool{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			seen[name] = true
			sub, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s%s: in the Go type, not in the schema", path, name)
				continue
			}
			walk(path+name+".", f.Type, sub)
		}
		for name := range props {
			if !seen[name] {
				t.Errorf("%s%s: in the schema, not in the Go type", path, name)
			}
		}
	}
	walk(root.Name()+": ", root, schema)
}

// A baseline predicate as attest-build writes it validates by Validate and
// by the schema; its schema's $id is its predicate type.
func TestValidBaseline(t *testing.T) {
	p := validPredicate()
	b := predicates.Baseline{TPM: p.TPM, AttestationKey: p.AttestationKey, Nonce: strings.Repeat("ab", 32), Quote: p.Quotes.Start,
		IMA: predicates.BaselineIMA{PCR: 10, Bank: "sha256", Template: "ima-ng", LogBytes: 300,
			Log: predicates.IMALog{Encoding: predicates.IMALogEncoding, Entries: 3, SHA256: strings.Repeat("cd", 32), Data: []byte{0x28, 0xb5}}},
		CreatedOn: p.Build.StartedOn}
	for name, mutate := range map[string]func(*predicates.Baseline){
		"from boot": func(*predicates.Baseline) {},
		"continuing another": func(b *predicates.Baseline) {
			b.IMA.Previous = &predicates.IMABaseline{Digest: "sha256:" + strings.Repeat("ef", 32), Entries: 3, PCRValue: strings.Repeat("01", 32)}
			b.IMA.Log.First = 3
		},
	} {
		c := b
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: Validate: %v", name, err)
		}
		if err := schemas.ValidateBaseline(c); err != nil {
			t.Fatalf("%s: schema: %v", name, err)
		}
	}
	bad := b
	bad.IMA.Log.First = 2 // from boot, but not from entry 0
	if err := bad.Validate(); err == nil {
		t.Fatal("Validate accepted a baseline from boot whose log starts at entry 2")
	}
	bad = b
	bad.IMA.PCR = 11
	if schemas.ValidateBaseline(bad) == nil || bad.Validate() == nil {
		t.Fatal("a baseline of PCR 11 is accepted")
	}
	var s struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(schemas.BaselineV01, &s); err != nil || s.ID != predicates.BaselineType {
		t.Fatalf("baseline schema $id %q (%v), want %q", s.ID, err, predicates.BaselineType)
	}
}
