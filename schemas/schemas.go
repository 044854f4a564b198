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
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(TPMIMAv01))
	if err != nil {
		return nil, fmt.Errorf("parsing the embedded TPM/IMA schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const loc = "tpm-ima.v0.1.schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("loading the embedded TPM/IMA schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compiling the embedded TPM/IMA schema: %w", err)
	}
	return s, nil
})

// ValidateTPMIMA validates a TPM/IMA predicate, given as JSON bytes or as any
// value that encoding/json marshals, against the embedded schema.
func ValidateTPMIMA(predicate any) error {
	s, err := compileTPMIMA()
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
		return fmt.Errorf("the predicate does not match schema %s: %w", "tpm-ima v0.1", err)
	}
	return nil
}
