// Package schemas embeds the JSON Schemas of attest-build's predicates and
// validates documents against them.
package schemas

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TPMIMAv01 is the JSON Schema (draft 2020-12) of the TPM/IMA predicate v0.1.
// Its $id equals predicates.TPMIMAType.
//
//go:embed tpm-ima.v0.1.schema.json
var TPMIMAv01 []byte

var compileTPMIMA = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return compile(TPMIMAv01, "tpm-ima.v0.1.schema.json", "TPM/IMA")
})

// compile compiles an embedded schema (loc names it, what in messages).
func compile(schema []byte, loc, what string) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("parsing the embedded %s schema: %w", what, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("loading the embedded %s schema: %w", what, err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compiling the embedded %s schema: %w", what, err)
	}
	return s, nil
}

// BaselineV01 is the JSON Schema (draft 2020-12) of the IMA baseline
// predicate v0.1. Its $id equals predicates.BaselineType.
//
//go:embed tpm-ima-baseline.v0.1.schema.json
var BaselineV01 []byte

var compileBaseline = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return compile(BaselineV01, "tpm-ima-baseline.v0.1.schema.json", "IMA baseline")
})

// ValidateBaseline validates an IMA baseline predicate (JSON bytes, or a
// value encoding/json marshals) against the embedded schema.
func ValidateBaseline(predicate any) error {
	return validate(compileBaseline, "tpm-ima-baseline v0.1", predicate)
}

// ValidateTPMIMA validates a TPM/IMA predicate, given as JSON bytes or as any
// value that encoding/json marshals, against the embedded schema.
func ValidateTPMIMA(predicate any) error {
	return validate(compileTPMIMA, "tpm-ima v0.1", predicate)
}

// validate validates predicate against the schema compiled by compiled.
func validate(compiled func() (*jsonschema.Schema, error), name string, predicate any) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	raw, ok := predicate.([]byte)
	if !ok {
		if raw, err = json.Marshal(predicate); err != nil {
			return fmt.Errorf("encoding the predicate for schema validation: %w", err)
		}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parsing the predicate for schema validation: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("the predicate does not match schema %s: %w", name, err)
	}
	return nil
}
