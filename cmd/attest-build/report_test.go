package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// A failing IMA finding appears once in the text report, the failed
// ima-rules check refers to it, and counts read as English ("1 violation").
func TestTextReportFindingOnce(t *testing.T) {
	finding := policy.IMAFinding{Index: 52, Path: "/tmp/fetch-deps.sh", Digest: "sha256:" + strings.Repeat("ab", 32), Rule: "allowlist", Detail: "not in the allowlist"}
	r := verify.AttestationResult{
		Attestation: "app.bin.intoto.jsonl", Artifacts: []string{"app.bin"}, Verdict: verify.StatusFail,
		Facts: verify.Facts{IMA: &verify.IMAFacts{
			Present: true, Bank: "sha256", LogEntries: 60, WindowStart: 49, WindowEnd: 60, Scope: policy.ScopeBoot,
			InScope: 60, Excluded: 1, Violations: 1, Findings: []policy.IMAFinding{finding}, FindingsTotal: 1,
		}},
		Checks: []verify.CheckResult{
			{Check: verify.CheckIMAReplay, Status: verify.StatusPass, Detail: "replayed"},
			{Check: verify.CheckIMARules, Status: verify.StatusFail, Detail: "ima rule: 1 of 60 entries in scope, first " + finding.String(),
				Expected: "every entry in scope allowed by the policy", Found: finding.String() + " (rule allowlist)"},
			{Check: verify.CheckMaxAge, Status: verify.StatusSkipped},
		},
	}
	var out bytes.Buffer
	writeTextReport(&out, r)
	text := out.String()
	if n := strings.Count(text, "/tmp/fetch-deps.sh"); n != 1 {
		t.Errorf("the finding appears %d times, want once:\n%s", n, text)
	}
	for _, want := range []string{
		"    ! entry 52 /tmp/fetch-deps.sh (sha256:abab",
		": not in the allowlist (rule allowlist)\n",
		"60 entries, 1 excluded, 1 violation\n",
		"FAIL ima-rules        1 of the 60 entries in scope breaks the policy's rules (listed under IMA above)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "1 violations") || strings.Contains(text, "expected:") {
		t.Errorf("report says '1 violations' or repeats the finding as expected/found:\n%s", text)
	}
}
