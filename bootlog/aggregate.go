package bootlog

import "github.com/attest-build/attest-build/evidence"

// BootAggregatePCRs returns the quoted PCRs IMA's boot_aggregate covers in
// bank b (0-7 for sha1, 0-9 for other banks: evidence.BootAggregatePCRs),
// in order, or nil when one of them is not quoted in that bank. It is the
// pcrs argument of evidence.CheckBootAggregateDigest, which holds the rule.
func (v PCRValues) BootAggregatePCRs(b evidence.Bank) [][]byte {
	bank := v[b]
	n := evidence.BootAggregatePCRs(b)
	out := make([][]byte, n)
	for i := range n {
		if out[i] = bank[i]; out[i] == nil {
			return nil
		}
	}
	return out
}
