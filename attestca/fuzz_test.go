package attestca

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadMessages feeds arbitrary bytes to the readers of the three
// enrollment messages a CA or runner takes from the other side: each
// returns a message or an error, never panics, and bad input wraps
// ErrMalformed.
func FuzzReadMessages(f *testing.F) {
	f.Add([]byte(`{"version":1,"ekKind":"rsa-2048","ekPublic":"AAE=","akPublic":"AAE=","tpm":{}}`))
	f.Add([]byte(`{"version":1,"id":"00112233445566778899aabbccddeeff","ekKind":"rsa-2048","credentialBlob":"AA==","secret":"AA==","expires":"2026-12-02T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"id":"00112233445566778899aabbccddeeff","credential":"AA=="}`))
	f.Add([]byte(`{"version":1}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := ReadRequest(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("request: %v", err)
		} else if err == nil && (q.Version != Version || len(q.AKPublic) == 0) {
			t.Fatalf("request accepted without version or AK: %+v", q)
		}
		if c, err := ReadChallenge(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("challenge: %v", err)
		} else if err == nil && !validID(c.ID) {
			t.Fatalf("challenge accepted with id %q", c.ID)
		}
		if s, err := ReadResponse(bytes.NewReader(b)); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("response: %v", err)
		} else if err == nil && !validID(s.ID) {
			t.Fatalf("response accepted with id %q", s.ID)
		}
	})
}
