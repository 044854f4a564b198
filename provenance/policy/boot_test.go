package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/provenance/internal/provtest"
)

const kernelDigest = "sha256:61e79ca0acd7e9f18984bea7b44650801ed54fd95a8786c16c583b86acf9d538"

// TestBootSection loads a boot: section and refuses bad ones with the line
// and the field.
func TestBootSection(t *testing.T) {
	base := provtest.BasePolicy(t)
	good := base + `boot:
  secureBoot: required
  kernels: [` + kernelDigest + `]
  commandLine:
    require: [ima_policy=]
    forbid: [ima_appraise=off]
`
	p, err := ParsePolicy([]byte(good), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := p.Boot()
	if b.SecureBoot != bootlog.SecureBootRequired || len(b.Kernels) != 1 || b.CommandLine.Forbid[0] != "ima_appraise=off" || b.Empty() {
		t.Errorf("boot rules %+v", b)
	}
	if p, err := ParsePolicy([]byte(base), "p.yaml"); err != nil || !func() bool { b := p.Boot(); return b.Empty() }() {
		t.Errorf("a policy without boot: has boot rules (%v)", err)
	}
	lines := strings.Count(base, "\n")
	tests := []struct {
		section string
		field   string
		line    int
	}{
		{"boot:\n  secureBoot: yes\n", "boot.secureBoot", lines + 2},
		{"boot:\n  kernels:\n    - " + kernelDigest + "\n    - sha256:XYZ\n", "boot.kernels[1]", lines + 4},
		{"boot:\n  commandLine:\n    forbid: [\"ima_appraise = off\"]\n", "boot.commandLine.forbid[0]", lines + 3},
		{"boot:\n  kernel: [" + kernelDigest + "]\n", "", lines + 2}, // unknown field
	}
	for _, tc := range tests {
		_, err := ParsePolicy([]byte(base+tc.section), "p.yaml")
		var pe *PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPolicy) || pe.Line != tc.line || (tc.field != "" && pe.Field != tc.field) {
			t.Errorf("%q: err %v (%+v), want field %q at line %d", tc.section, err, pe, tc.field, tc.line)
		}
	}
}
