package bootlog

import (
	"errors"
	"strings"
	"testing"
)

// stateOf verifies the real log of testdata/VARIANT against its PCRs.
func stateOf(t *testing.T, variant string) *State {
	t.Helper()
	l := readLog(t, "testdata/"+variant+"/binary_bios_measurements")
	st, err := l.Verify(readPCRs(t, "testdata/"+variant+"/pcrs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func shimState(t *testing.T) *State   { return stateOf(t, "ovmf-sb-shim") }
func directState(t *testing.T) *State { return stateOf(t, "ovmf") }

const (
	shim   = "sha256:80a66d53a945d2286fcadd780fae1c225aa732079cd67b5225dc78aaab4e2ff8"
	grub   = "sha256:a68f6d71ebddaa19751ff8d729f67d11b0df8e4c49400c3e7e90de16119e1265"
	kernel = "sha256:61e79ca0acd7e9f18984bea7b44650801ed54fd95a8786c16c583b86acf9d538"
	dbSB   = "sha256:644aacf6f4015125233c459bc9e40f3fc82ccd14abb047dc50b7913c8095d1d7"
	dbxSB  = "sha256:1963d580fcc0cede165e23837b55335eebe18750c0b795883386026ea071e3c6"
	msUEFI = "sha256:48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507"
	debCA  = "sha256:079646974bce09b1f04da67bd722d1fb0947ae4c4010bccdbba52d5b23cbf1a2"
)

// fullPolicy is every rule the Secure Boot run satisfies.
func fullPolicy() Policy {
	return Policy{
		SecureBoot: SecureBootRequired, Kernels: []string{kernel}, BootLoaders: []string{shim, grub},
		CommandLine: CommandLinePolicy{Require: []string{"ima_policy=", "ima_template=ima-ng", "console"}, Forbid: []string{"ima_appraise=off", "ima_appraise=fix", "init"}},
		DB:          []string{dbSB}, DBX: []string{dbxSB}, Authorities: []string{msUEFI, debCA},
	}
}

// TestPolicyCheck changes one rule at a time and names the rule that fails.
func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name  string
		state func(*testing.T) *State
		edit  func(*Policy)
		rules []string // the rules that fail, in order
	}{
		{"every rule holds", shimState, func(*Policy) {}, nil},
		{"another kernel allowed", shimState, func(p *Policy) { p.Kernels = []string{grub} }, []string{"kernels"}},
		{"shim not allowed", shimState, func(p *Policy) { p.BootLoaders = []string{grub} }, []string{"bootLoaders"}},
		{"ima_appraise=off forbidden, present", shimState, func(p *Policy) { p.CommandLine.Forbid = []string{"panic=-1"} }, []string{"commandLine.forbid"}},
		{"ima_policy=tcb required by value", shimState, func(p *Policy) { p.CommandLine.Require = []string{"ima_policy=tcb"} }, nil},
		{"ima_policy other value", shimState, func(p *Policy) { p.CommandLine.Require = []string{"ima_policy=critical_data"} }, []string{"commandLine.require"}},
		{"ima_appraise required, absent", shimState, func(p *Policy) { p.CommandLine.Require = []string{"ima_appraise"} }, []string{"commandLine.require"}},
		{"dbx other", shimState, func(p *Policy) { p.DBX = []string{dbSB} }, []string{"dbx"}},
		{"authority not allowed", shimState, func(p *Policy) { p.Authorities = []string{msUEFI} }, []string{"authorities"}},
		// OVMF direct boot: Secure Boot off, no command line text.
		{"direct boot", directState, func(p *Policy) { p.BootLoaders, p.DB, p.DBX, p.Authorities = nil, nil, nil, nil }, []string{"secureBoot", "kernels", "commandLine"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := fullPolicy()
			tc.edit(&p)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			var rules []string
			for _, f := range p.Check(tc.state(t)) {
				rules = append(rules, f.Rule)
				if f.Expected == "" || f.Found == "" {
					t.Errorf("finding %+v without expected or found", f)
				}
			}
			if strings.Join(rules, " ") != strings.Join(tc.rules, " ") {
				t.Errorf("failed rules %v, want %v", rules, tc.rules)
			}
		})
	}
}

// TestSecureBootDirectKernelPolicy: the state of Secure Boot on with a
// directly started kernel never satisfies secureBoot: required.
func TestSecureBootDirectKernelPolicy(t *testing.T) {
	st := shimState(t)
	st.SecureBoot = SecureBoot{Enabled: true, Reason: "no authority"}
	f := (&Policy{SecureBoot: SecureBootRequired}).Check(st)
	if len(f) != 1 || !strings.Contains(f[0].Found, "enabled but not verified") {
		t.Errorf("findings %+v, want secureBoot: enabled but not verified", f)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		edit  func(*Policy)
		field string
	}{
		{func(p *Policy) { p.SecureBoot = "yes" }, "secureBoot"},
		{func(p *Policy) { p.Kernels = []string{kernel, "sha256:ABC"} }, "kernels[1]"},
		{func(p *Policy) { p.DBX = []string{"61e79ca0acd7e9f18984bea7b44650801ed54fd95a8786c16c583b86acf9d538"} }, "dbx[0]"},
		{func(p *Policy) { p.CommandLine.Forbid = []string{"ima_appraise= off"} }, "commandLine.forbid[0]"},
		{func(p *Policy) { p.CommandLine.Require = []string{"=x"} }, "commandLine.require[0]"},
	}
	for _, tc := range tests {
		p := fullPolicy()
		tc.edit(&p)
		var fe *PolicyFieldError
		if err := p.Validate(); !errors.As(err, &fe) || fe.Field() != tc.field || !errors.Is(err, ErrPolicy) {
			t.Errorf("Validate = %v, want a field error for %s", err, tc.field)
		}
	}
	if !(&Policy{SecureBoot: "optional"}).Empty() || func() bool { p := fullPolicy(); return p.Empty() }() {
		t.Error("Empty: wrong")
	}
}

func TestSummary(t *testing.T) {
	got := strings.Join(shimState(t).Summary(), "\n")
	for _, want := range []string{
		"Secure Boot: on, verified by Microsoft Corporation UEFI CA 2011, Debian Secure Boot CA",
		"boot loader: grub",
		"kernel: /vmlinuz " + kernel,
		`kernel command line: "console=ttyS0 ima_policy=tcb`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	got = strings.Join(directState(t).Summary(), "\n")
	if !strings.Contains(got, "Secure Boot: off") || !strings.Contains(got, "only its digest was measured") {
		t.Errorf("direct boot summary:\n%s", got)
	}
}
