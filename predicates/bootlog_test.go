package predicates_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/schemas"
)

func validBootLog() *predicates.BootLog {
	return &predicates.BootLog{Present: true, Encoding: predicates.BootLogEncoding, Events: 46, SHA256: strings.Repeat("ab", 32), Data: []byte{0x28, 0xb5, 0x2f, 0xfd}}
}

func TestBootLogValid(t *testing.T) {
	for name, b := range map[string]*predicates.BootLog{
		"carried": validBootLog(),
		"absent":  {Present: false, Reason: "no firmware event log at /sys/kernel/security/tpm0/binary_bios_measurements"},
	} {
		p := validPredicate()
		p.BootLog = b
		if err := p.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
		if err := schemas.ValidateTPMIMA(p); err != nil {
			t.Errorf("%s: schema: %v", name, err)
		}
	}
}

// Each mutation breaks the boot log; Validate names the field and the
// schema refuses it too.
func TestBootLogInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*predicates.BootLog)
		field  string
	}{
		{"absent without reason", func(b *predicates.BootLog) { *b = predicates.BootLog{} }, "bootLog.reason"},
		{"absent with data", func(b *predicates.BootLog) { b.Present = false; b.Reason = "x" }, "bootLog.present"},
		{"encoding", func(b *predicates.BootLog) { b.Encoding = "binary_bios_measurements+gzip" }, "bootLog.encoding"},
		{"no data", func(b *predicates.BootLog) { b.Data = nil }, "bootLog.data"},
		{"digest", func(b *predicates.BootLog) { b.SHA256 = "abc" }, "bootLog.sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPredicate()
			p.BootLog = validBootLog()
			tt.mutate(p.BootLog)
			var fe *predicates.FieldError
			if err := p.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate = %v, want a *FieldError for %s", err, tt.field)
			}
			if err := schemas.ValidateTPMIMA(p); err == nil {
				t.Fatalf("schema accepted a predicate with a bad %s", tt.field)
			}
		})
	}
}
