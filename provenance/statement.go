package provenance

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/attest-build/attest-build/predicates"
)

// statementJSON is the wire form of an in-toto Statement v1. It is encoded
// with encoding/json (fields in this order, no map iteration), so the same
// statement always encodes to the same bytes.
type statementJSON struct {
	Type          string          `json:"_type"`
	Subject       []subjectJSON   `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subjectJSON struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// MarshalStatement encodes an in-toto Statement v1 with the subjects sorted
// by name and the given predicate (any value encoding/json encodes, or a
// json.RawMessage). The statement is checked with the in-toto Go bindings'
// Validate (at least one subject, each with a digest, a predicate type).
func MarshalStatement(subjects []predicates.Subject, predicateType string, predicate any) ([]byte, error) {
	sorted := sortSubjects(subjects)
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: predicateType, Predicate: &structpb.Struct{}}
	out := statementJSON{Type: intoto.StatementTypeUri, PredicateType: predicateType}
	for _, s := range sorted {
		d := map[string]string{"sha256": hex.EncodeToString(s.SHA256[:])}
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: s.Name, Digest: d})
		out.Subject = append(out.Subject, subjectJSON{Name: s.Name, Digest: d})
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("assembling %s statement: %w", predicateType, err)
	}
	raw, ok := predicate.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(predicate); err != nil {
			return nil, fmt.Errorf("encoding %s predicate: %w", predicateType, err)
		}
	}
	out.Predicate = raw
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding %s statement: %w", predicateType, err)
	}
	return b, nil
}

// SignStatement wraps an encoded statement in a DSSE envelope signed by s and
// returns the envelope as one line of JSON (no trailing newline).
func (s *Signer) SignStatement(ctx context.Context, statement []byte) ([]byte, error) {
	es, err := dsse.NewEnvelopeSigner(s.dsseSigner())
	if err != nil {
		return nil, fmt.Errorf("signing statement: %w", err)
	}
	env, err := es.SignPayload(ctx, predicates.PayloadType, statement)
	if err != nil {
		return nil, fmt.Errorf("signing statement with key %s: %w", s.fingerprint, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, fmt.Errorf("encoding envelope: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func sortSubjects(subjects []predicates.Subject) []predicates.Subject {
	sorted := append([]predicates.Subject(nil), subjects...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	return sorted
}
