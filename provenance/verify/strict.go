package verify

import (
	"bytes"
	"fmt"
	"slices"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/attest-build/attest-build/internal/strictjson"
	"github.com/attest-build/attest-build/predicates"
)

// The statements are read one way only (package strictjson): every object
// at every level with no two member names equal, or equal but for case, as
// encoding/json would fold them; names matched exactly; nothing after the
// value. One linear pass over the payload checks it and finds the
// predicate, handed on as a slice of the payload.

// parseStatement decodes an in-toto Statement v1. The predicate is
// kept as raw JSON, a slice of body (the TPM/IMA one carries the IMA log:
// no copy of it); the in-toto bindings validate the rest. Members other
// than the four of a statement are ignored, as in-toto asks, but obey the
// same rules.
func parseStatement(body []byte, maxSubjects int) (*stmt, error) {
	spans, err := strictjson.CheckFind(body, "/_type", "/subject", "/predicateType", "/predicate", "/predicate/ima/log/data")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(body) == 0 || bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var raw struct {
		Type          string
		Subject       []jsontext.Value
		PredicateType string
		Predicate     []byte
	}
	for i, dst := range []any{&raw.Type, &raw.Subject, &raw.PredicateType} {
		if sp := spans[i]; sp.Found {
			if err := jsonv2.Unmarshal(body[sp.Start:sp.End], dst); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, []string{"_type", "subject", "predicateType"}[i], err)
			}
		}
	}
	var logData strictjson.Span // relative to the predicate
	if sp := spans[3]; sp.Found {
		raw.Predicate = body[sp.Start:sp.End]
		if ld := spans[4]; ld.Found {
			logData = strictjson.Span{Start: ld.Start - sp.Start, End: ld.End - sp.Start, Found: true}
		}
	}
	if raw.Type != intoto.StatementTypeUri {
		return nil, fmt.Errorf("%w: _type %q, want %q", ErrWrongType, raw.Type, intoto.StatementTypeUri)
	}
	if len(raw.Subject) > maxSubjects {
		return nil, fmt.Errorf("%w: %d subjects, at most %d", ErrTooLarge, len(raw.Subject), maxSubjects)
	}
	s := &intoto.Statement{Type: raw.Type, PredicateType: raw.PredicateType}
	for i, rs := range raw.Subject {
		rd := &intoto.ResourceDescriptor{}
		if err := protojson.Unmarshal(rs, rd); err != nil {
			return nil, fmt.Errorf("%w: subject[%d]: %w", ErrMalformed, i, err)
		}
		s.Subject = append(s.Subject, rd)
	}
	if len(raw.Predicate) > 0 && raw.Predicate[0] == '{' {
		s.Predicate = &structpb.Struct{} // checked for presence here, decoded by its reader
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &stmt{payload: body, PredicateType: raw.PredicateType, Subjects: s.Subject, Predicate: raw.Predicate, logData: logData}, nil
}

// decodeTPMIMA decodes a TPM/IMA predicate, member names exact and
// unknown members refused at every level (the schema's
// additionalProperties: false), but for ima.log.data, whose base64 text it
// returns as a slice of raw, checked to hold no JSON escape or line break,
// for the replay to decode as a stream. In the decoded predicate a
// non-empty data is one placeholder byte.
func decodeTPMIMA(raw []byte) (*predicates.TPMIMA, []byte, error) {
	spans, err := strictjson.CheckFind(raw, "/ima/log/data")
	if err != nil {
		return nil, nil, err
	}
	return decodeCheckedTPMIMA(raw, spans[0])
}

// decodeCheckedTPMIMA is decodeTPMIMA for a predicate that parseStatement
// checked already, with the span of its ima.log.data: the large log is not
// read a second time.
func decodeCheckedTPMIMA(raw []byte, logData strictjson.Span) (*predicates.TPMIMA, []byte, error) {
	return decodeWithLog[predicates.TPMIMA](raw, logData)
}

// decodeWithLog decodes a predicate (a TPM/IMA or a baseline one) as
// decodeCheckedTPMIMA says, its ima.log.data at logData returned as its
// base64 text.
func decodeWithLog[T any](raw []byte, logData strictjson.Span) (*T, []byte, error) {
	doc, logB64 := raw, []byte(nil)
	if sp := logData; sp.Found && raw[sp.Start] == '"' {
		logB64 = raw[sp.Start+1 : sp.End-1]
		if len(logB64)%4 != 0 {
			return nil, nil, fmt.Errorf("ima.log.data: %d base64 characters, not a multiple of 4 (padded base64)", len(logB64))
		}
		for _, bad := range []byte{'\\', '\n', '\r'} {
			if bytes.IndexByte(logB64, bad) >= 0 {
				return nil, nil, fmt.Errorf("ima.log.data: byte %q in base64 text (JSON escapes and line breaks are not accepted)", bad)
			}
		}
		placeholder := `""`
		if len(logB64) > 0 {
			placeholder = `"AA=="`
		}
		doc = slices.Concat(raw[:sp.Start], []byte(placeholder), raw[sp.End:])
	}
	var p T
	if err := strictjson.Unmarshal(doc, &p); err != nil {
		return nil, nil, err
	}
	return &p, logB64, nil
}
