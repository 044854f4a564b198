package inspect_test

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance/inspect"
)

// Inspect decodes an attestation file's envelopes and statements for
// display and verifies nothing: this envelope's signature is not even a
// signature, and the summary says so (Verified false).
func ExampleInspect() {
	statement := `{"_type":"https://in-toto.io/Statement/v1",` +
		`"subject":[{"name":"app.tar","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}}],` +
		`"predicateType":"https://example.com/other/v1","predicate":{}}`
	line := `{"payloadType":"` + predicates.PayloadType + `","payload":"` +
		base64.StdEncoding.EncodeToString([]byte(statement)) +
		`","signatures":[{"keyid":"sha256:k","sig":"bm90IGEgc2lnbmF0dXJl"}]}` + "\n"

	s, err := inspect.Inspect(strings.NewReader(line), inspect.InspectOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := s.Envelopes[0]
	fmt.Println("verified:", s.Verified)
	fmt.Println("predicateType:", e.PredicateType)
	fmt.Println("subject:", e.Subjects[0].Name, "keyids:", e.KeyIDs)
	// Output:
	// verified: false
	// predicateType: https://example.com/other/v1
	// subject: app.tar keyids: [sha256:k]
}
