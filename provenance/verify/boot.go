package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/attest-build/attest-build/bootlog"
	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/tpm"
)

// Boot verification failures.
var (
	// ErrBootLogMissing: the policy has boot rules and the attestation
	// carries no firmware event log.
	ErrBootLogMissing = errors.New("firmware event log required")
	// ErrBootLog: the carried firmware event log is malformed, or does not
	// replay to a quote's PCRs 0-9, or IMA's boot_aggregate does not match.
	ErrBootLog = errors.New("firmware event log does not match the quotes")
	// ErrBootRule: the boot state breaks a rule of the policy's boot section.
	ErrBootRule = errors.New("boot state refused by the policy")
)

// BootFacts are what verify established about the measured boot.
type BootFacts struct {
	Present bool   `json:"present"`
	Reason  string `json:"reason,omitempty"` // why no boot log was checked
	// State is the boot state read from the replayed log; Summary says it
	// in words.
	State   *bootlog.State `json:"state,omitempty"`
	Summary []string       `json:"summary,omitempty"`
	// BootAggregate says whether IMA's boot_aggregate matched the quoted
	// PCRs 0-9.
	BootAggregate string            `json:"bootAggregate,omitempty"`
	Findings      []bootlog.Finding `json:"findings,omitempty"`
}

// bootAggregate is IMA's first entry, kept by the IMA replay.
type bootAggregate struct {
	alg    string
	digest []byte
}

// checkBootLog is check boot-log: the carried firmware event log, within
// bootlog.MaxLogSize and with its declared SHA-256, replays to the PCRs 0-9
// of both verified quotes in every bank they hold (bootlog.(*Log).Verify),
// and IMA's boot_aggregate, when the IMA log was replayed, is the hash of
// those PCRs. Without a carried log it passes unless the policy has boot
// rules.
func (vr *verification) checkBootLog() error {
	b := vr.pred.BootLog
	pol := vr.v.policy.Boot()
	if b == nil || !b.Present {
		reason := "the attestation carries none (made before boot logs were carried)"
		if b != nil {
			reason = b.Reason
		}
		if !pol.Empty() {
			return vr.rep.fail(CheckBootLog, ErrBootLogMissing, "a firmware event log (the policy has boot rules)", "none: "+reason)
		}
		vr.rep.report.Facts.Boot = &BootFacts{Reason: reason}
		vr.rep.pass(CheckBootLog, "absent ("+reason+"); the policy has no boot rules")
		return nil
	}
	raw, err := decodeBootLog(b)
	if err != nil {
		return vr.rep.fail(CheckBootLog, fmt.Errorf("%w: bootLog: %w", ErrMalformed, err), "a "+predicates.BootLogEncoding+" log of its declared SHA-256", err.Error())
	}
	l, err := bootlog.Parse(raw)
	if err != nil {
		return vr.rep.fail(CheckBootLog, fmt.Errorf("%w: %w", ErrBootLog, err), "a TCG firmware event log", err.Error())
	}
	var st *bootlog.State
	quoted := [2]bootlog.PCRValues{}
	for i, q := range vr.quotes {
		which := [2]string{"start", "end"}[i]
		quoted[i] = bootPCRs(q)
		s, err := l.Verify(quoted[i])
		if err != nil {
			exp, found := "PCRs 0-9 of the "+which+" quote", err.Error()
			var re *bootlog.ReplayError
			if errors.As(err, &re) {
				exp = fmt.Sprintf("%v PCR %d of the %s quote: %x", re.Bank, re.PCR, which, re.Quoted)
				found = fmt.Sprintf("the log replays to %x", re.Replayed)
				if re.Reason != "" {
					found = re.Reason
				}
			}
			return vr.rep.fail(CheckBootLog, fmt.Errorf("%w: %s quote: %w", ErrBootLog, which, err), exp, found)
		}
		st = s
	}
	facts := &BootFacts{Present: true, State: st, Summary: st.Summary(), BootAggregate: "not checked: no IMA log"}
	if a := vr.aggregate; a != nil {
		for i, pcrs := range quoted {
			which := [2]string{"start", "end"}[i]
			compared, err := evidence.CheckBootAggregateDigest(a.alg, a.digest, pcrs.BootAggregatePCRs)
			if err == nil && !compared {
				err = fmt.Errorf("%w: the %s quote does not hold the %s PCRs boot_aggregate covers", bootlog.ErrNotQuoted, which, a.alg)
			}
			if err != nil {
				found := err.Error()
				var ae *evidence.BootAggregateError
				if errors.As(err, &ae) {
					found = fmt.Sprintf("%v:%x", ae.Bank, ae.Computed)
					if ae.Reason != "" {
						found += " (logged: " + ae.Reason + ")"
					}
				}
				return vr.rep.fail(CheckBootLog, fmt.Errorf("%w: %s quote: %w", ErrBootLog, which, err),
					fmt.Sprintf("IMA boot_aggregate %s:%x", a.alg, a.digest), "the boot PCRs of the "+which+" quote hash to "+found)
			}
		}
		b, _ := evidence.ParseBank(a.alg)
		facts.BootAggregate = fmt.Sprintf("IMA's boot_aggregate %s:%x is the hash of the quoted PCRs 0-%d", a.alg, a.digest, evidence.BootAggregatePCRs(b)-1)
	}
	vr.boot = st
	vr.rep.report.Facts.Boot = facts
	vr.rep.pass(CheckBootLog, fmt.Sprintf("%d events replay to PCRs 0-9 of both quotes (%d bank(s)); %s", st.Events, len(quoted[1]), facts.BootAggregate))
	return nil
}

// checkBootRules is check boot-rules: the boot state obeys the policy's boot
// section (bootlog.Policy.Check).
func (vr *verification) checkBootRules() error {
	pol := vr.v.policy.Boot()
	if pol.Empty() {
		vr.rep.pass(CheckBootRules, "the policy has no boot rules")
		return nil
	}
	findings := pol.Check(vr.boot)
	if len(findings) > 0 {
		vr.rep.report.Facts.Boot.Findings = findings
		f := findings[0]
		return vr.rep.fail(CheckBootRules, fmt.Errorf("%w: %s (%d rule(s) broken)", ErrBootRule, f, len(findings)), "boot."+f.Rule+": "+f.Expected, orNone(f.Found))
	}
	vr.rep.pass(CheckBootRules, "the boot state obeys the policy's boot section")
	return nil
}

// bootPCRs returns the boot PCRs of a verified quote.
func bootPCRs(q *tpm.VerifiedQuote) bootlog.PCRValues {
	out := bootlog.PCRValues{}
	for _, v := range q.PCRs {
		if v.Index > 9 {
			continue
		}
		b, err := evidence.ParseBank(v.Bank)
		if err != nil {
			continue // a bank bootlog cannot replay: no values, no state from it
		}
		if out[b] == nil {
			out[b] = map[int][]byte{}
		}
		out[b][v.Index] = v.Value
	}
	return out
}

// decodeBootLog decompresses the carried log within bootlog.MaxLogSize and
// checks its SHA-256.
func decodeBootLog(b *predicates.BootLog) ([]byte, error) {
	if b.Encoding != predicates.BootLogEncoding {
		return nil, fmt.Errorf("encoding %q", b.Encoding)
	}
	zr, err := evidence.NewZstdReader(bytes.NewReader(b.Data))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, bootlog.MaxLogSize+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if len(raw) > bootlog.MaxLogSize {
		return nil, fmt.Errorf("%w: more than %d bytes", bootlog.ErrTooLarge, bootlog.MaxLogSize)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != b.SHA256 {
		return nil, fmt.Errorf("SHA-256 %s, bootLog.sha256 says %s", got, b.SHA256)
	}
	return raw, nil
}
