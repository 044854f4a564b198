package inspect

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/attest-build/attest-build/predicates"
)

// TextOptions shapes WriteText's output.
type TextOptions struct {
	// MaxWindowEntries caps the IMA window entries listed per attestation;
	// 0 lists them all.
	MaxWindowEntries int
}

// WriteText writes s as a report a person reads at a glance. Its first line
// says that nothing in it is verified. Text from the attestation is shown
// with control, line-separator and bidirectional formatting characters
// escaped (predicates.Printable; names and paths also LF and TAB), so an
// attestation cannot rewrite the terminal, fake lines or reorder what is
// read.
func (s *Summary) WriteText(w io.Writer, opts TextOptions) error {
	var out strings.Builder
	s.writeText(&out, opts)
	_, err := io.WriteString(w, predicates.Printable(out.String()))
	return err
}

func (s *Summary) writeText(w io.Writer, opts TextOptions) {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "NOT VERIFIED: %s.\n", s.Notice)
	for i := range s.Envelopes {
		e := &s.Envelopes[i]
		fmt.Fprintf(bw, "\nenvelope %d (line %d): %s\n", i+1, e.Line, orNone(e.PredicateType))
		keys := "none"
		if len(e.KeyIDs) > 0 {
			keys = strings.Join(quoteEmpty(e.KeyIDs), ", ")
		}
		fmt.Fprintf(bw, "  signatures:  %d, keyid %s (not checked)\n", e.Signatures, keys)
		if e.Other != "" {
			fmt.Fprintf(bw, "  %s\n", e.Other)
		}
		if len(e.Subjects) > 0 {
			fmt.Fprintf(bw, "  subjects:\n")
			for _, sub := range e.Subjects {
				fmt.Fprintf(bw, "    %s  %s\n", predicates.PrintableField(sub.Name), digestString(sub.Digest))
			}
		}
		if e.TPMIMA != nil {
			writeTPMIMA(bw, e.TPMIMA, opts)
		}
		if e.SLSA != nil {
			writeSLSA(bw, e.SLSA)
		}
	}
	bw.Flush()
}

func writeTPMIMA(w io.Writer, t *TPMIMASummary, opts TextOptions) {
	mode := t.Mode
	switch t.Mode {
	case predicates.ModeSim:
		mode += " (the embedded simulator: proves nothing about hardware)"
	case predicates.ModeSwtpm:
		mode += " (a software TPM: proves nothing about hardware)"
	case predicates.ModeDevice:
		mode += " (a TPM device)"
	}
	fmt.Fprintf(w, "  TPM mode:    %s\n", mode)
	if t.Manufacturer != "" || t.FirmwareVersion != "" {
		fmt.Fprintf(w, "  TPM:         manufacturer %s, vendor %q, firmware %s, %d EK certificate(s)\n",
			orNone(t.Manufacturer), t.VendorString, orNone(t.FirmwareVersion), t.EKCertificates)
	}
	fmt.Fprintf(w, "  AK:          %s\n", orNone(t.AKFingerprint))
	fmt.Fprintf(w, "  nonce:       start %s; end from the subjects (%s)\n", orNone(t.NonceStart), orNone(t.NonceConstruction))
	fmt.Fprintf(w, "  quotes:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    \ttype\tclock (ms)\tresetCount\trestartCount\tsafe\textraData\tPCRs\n")
	for _, q := range []struct {
		name string
		q    *QuoteSummary
	}{{"start", &t.StartQuote}, {"end", &t.EndQuote}} {
		fmt.Fprintf(tw, "    %s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", q.name, q.q.Type, q.q.Clock, q.q.ResetCount,
			q.q.RestartCount, yesNo(q.q.Safe), short(q.q.ExtraData), pcrList(q.q.PCRs))
	}
	tw.Flush()
	// The end quote's PCR values; runs of equal values print once.
	pcrs := t.EndQuote.PCRs
	for i := 0; i < len(pcrs); {
		j := i
		for j+1 < len(pcrs) && pcrs[j+1].Bank == pcrs[i].Bank && pcrs[j+1].Index == pcrs[j].Index+1 && pcrs[j+1].Value == pcrs[i].Value {
			j++
		}
		idx := fmt.Sprint(pcrs[i].Index)
		if j > i {
			idx = fmt.Sprintf("%d-%d", pcrs[i].Index, pcrs[j].Index)
		}
		fmt.Fprintf(w, "    end %s:%s = %s\n", pcrs[i].Bank, idx, pcrs[i].Value)
		i = j + 1
	}
	m := &t.IMA
	if !m.Present {
		fmt.Fprintf(w, "  IMA:         no log: %s\n", orNone(m.Reason))
	} else {
		fmt.Fprintf(w, "  IMA:         log of %d entries up to the end quote (PCR %d, %s bank, template %s, log sha256 %s)\n",
			m.LogEntries, m.PCR, m.Bank, m.Template, short(m.LogSHA256))
		fmt.Fprintf(w, "  IMA window:  entries [%d, %d): %d measured during the build (files already measured since boot are not repeated)\n",
			m.WindowStart, m.WindowEnd, m.WindowEnd-m.WindowStart)
		if b := m.Baseline; b != nil {
			fmt.Fprintf(w, "  IMA baseline: the log carries entries from %d on; those before are in the baseline %s (verify --baseline)\n", b.Entries, b.Digest)
		}
		n := len(m.Window)
		if opts.MaxWindowEntries > 0 && n > opts.MaxWindowEntries {
			n = opts.MaxWindowEntries
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, e := range m.Window[:n] {
			d := e.DigestAlg + ":" + e.Digest
			if e.Violation {
				d = "VIOLATION"
			}
			fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\n", e.Index, predicates.PrintableField(e.Template), d, predicates.PrintableField(e.Path))
		}
		tw.Flush()
		if n < len(m.Window) {
			fmt.Fprintf(w, "    ... %d more (--max-entries 0 or --format json lists all)\n", len(m.Window)-n)
		}
	}
	switch bl := t.BootLog; {
	case bl == nil:
	case bl.Present:
		fmt.Fprintf(w, "  boot log:    firmware event log of %d events (sha256 %s; verify replays it to PCRs 0-9)\n", bl.Events, short(bl.SHA256))
	default:
		fmt.Fprintf(w, "  boot log:    none: %s\n", predicates.PrintableField(orNone(bl.Reason)))
	}
	b := &t.Build
	fmt.Fprintf(w, "  build:       %s\n", strings.Join(b.Argv, " "))
	fmt.Fprintf(w, "               in %s, exit status %d, %s to %s (%s)\n", orNone(b.WorkingDirectory), b.ExitStatus,
		b.StartedOn.Format(time.RFC3339), b.FinishedOn.Format(time.RFC3339), b.FinishedOn.Sub(b.StartedOn).Round(time.Millisecond))
}

func writeSLSA(w io.Writer, s *SLSASummary) {
	fmt.Fprintf(w, "  builder.id:  %s\n", orNone(s.BuilderID))
	fmt.Fprintf(w, "  buildType:   %s\n", orNone(s.BuildType))
	if s.InvocationID != "" {
		fmt.Fprintf(w, "  invocation:  %s\n", s.InvocationID)
	}
	if s.StartedOn != nil && s.FinishedOn != nil {
		fmt.Fprintf(w, "  ran:         %s to %s\n", s.StartedOn.Format(time.RFC3339), s.FinishedOn.Format(time.RFC3339))
	}
	if len(s.ExternalParameters) > 0 {
		fmt.Fprintf(w, "  parameters:  %s\n", s.ExternalParameters)
	}
	for _, d := range s.ResolvedDependencies {
		fmt.Fprintf(w, "  source:      %s %s\n", orNone(resourceName(d)), digestString(d.Digest))
	}
	for _, d := range s.Byproducts {
		fmt.Fprintf(w, "  byproduct:   %s %s\n", orNone(resourceName(d)), digestString(d.Digest))
	}
}

func resourceName(r ResourceSummary) string {
	if r.URI != "" {
		return r.URI
	}
	return r.Name
}

func digestString(d map[string]string) string {
	algs := make([]string, 0, len(d))
	for a := range d {
		algs = append(algs, a)
	}
	sort.Strings(algs)
	parts := make([]string, len(algs))
	for i, a := range algs {
		parts[i] = a + ":" + d[a]
	}
	return strings.Join(parts, " ")
}

// pcrList renders PCR selections compactly: "sha256:0-7,10 sha1:10".
func pcrList(pcrs []predicates.PCR) string {
	var banks []string
	idx := map[string][]int{}
	for _, p := range pcrs {
		if _, ok := idx[p.Bank]; !ok {
			banks = append(banks, p.Bank)
		}
		idx[p.Bank] = append(idx[p.Bank], p.Index)
	}
	parts := make([]string, 0, len(banks))
	for _, b := range banks {
		ii := idx[b]
		sort.Ints(ii)
		var r []string
		for i := 0; i < len(ii); {
			j := i
			for j+1 < len(ii) && ii[j+1] == ii[j]+1 {
				j++
			}
			if j > i {
				r = append(r, fmt.Sprintf("%d-%d", ii[i], ii[j]))
			} else {
				r = append(r, fmt.Sprint(ii[i]))
			}
			i = j + 1
		}
		parts = append(parts, b+":"+strings.Join(r, ","))
	}
	return strings.Join(parts, " ")
}

func short(hex string) string {
	if len(hex) > 16 {
		return hex[:16] + "…"
	}
	return orNone(hex)
}

func quoteEmpty(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = orNone(s)
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
