package main

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/internal/buildinfo"
	"github.com/attest-build/attest-build/internal/cappedfile"
	"github.com/attest-build/attest-build/predicates"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

// verifyOptions are the flags of attest-build verify.
type verifyOptions struct {
	Attestation string
	Policy      string
	Keys        []string
	Format      string
	// VSA writes a signed Verification Summary Attestation to this file,
	// signed with VSAKey: a private key, or "tpm" for the TPM-resident key
	// that tpm and tpmKey name.
	VSA    string
	VSAKey string
	tpm    tpmOptions
	tpmKey tpmKeyOptions
	// Bundles are Sigstore bundle files verified instead of an
	// attestation file; IMALog is a detached IMA log.
	Bundles []string
	IMALog  string
	// Baselines are IMA baseline files or directories (attestations made
	// with --baseline or --baseline-dir).
	Baselines   []string
	ResourceURI string
	PolicyURI   string
}

func (o *verifyOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Attestation, "attestation", "", "the attestation `FILE` (default: ARTIFACT.intoto.jsonl beside each artifact)")
	cmd.Flags().StringVar(&o.Policy, "policy", "", "the trust policy `FILE` (YAML, see docs/policy.md)")
	cmd.Flags().StringArrayVar(&o.Keys, "key", nil, "trusted signer public key `FILE`, PEM (repeatable; added to the policy's signers)")
	cmd.Flags().StringVar(&o.Format, "format", "text", "output `FORMAT`: text or json")
	cmd.Flags().StringArrayVar(&o.Bundles, "bundle", nil, "verify Sigstore bundle `FILE`s (attest-build --bundle: the .tpm-ima and the .slsa one) instead of an attestation file; repeatable")
	cmd.Flags().StringVar(&o.IMALog, "ima-log", "", "the detached IMA log `FILE` of an attestation made with --detach-log (default: BASE"+provenance.DetachedLogSuffix+" beside the attestation or bundle, when it exists)")
	cmd.Flags().StringArrayVar(&o.Baselines, "baseline", nil, "an IMA baseline `FILE` or a DIR of them (attest-build baseline, or a build's --baseline-dir), for attestations whose log continues one; repeatable; each is verified once per run")
	cmd.Flags().StringVar(&o.VSA, "vsa", "", "also write a signed SLSA Verification Summary Attestation v1 (one DSSE envelope, JSON Lines) to `FILE`, PASSED or FAILED (docs/verify.md)")
	cmd.Flags().StringVar(&o.VSAKey, "vsa-key", "", "the key `REF` that signs the --vsa summary: \"tpm\" for this host's TPM-resident key (--tpm, --tpm-key-auth, --tpm-key-handle; created on first use, as attest-build -k tpm), a PEM private key file or its text (password in "+provenance.KeyPasswordEnv+")")
	o.tpm.AddFlags(cmd)
	o.tpmKey.AddFlags(cmd)
	cmd.Flags().StringVar(&o.ResourceURI, "resource-uri", "", "the summary's resourceUri, the `URI` of the verified artifact (default file:// and the first artifact's absolute path)")
	cmd.Flags().StringVar(&o.PolicyURI, "policy-uri", "", "the summary's policy.uri, the `URI` where consumers find the policy (default file:// and the policy's absolute path)")
	_ = cmd.MarkFlagRequired("policy")
}

func newVerifyCommand() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [flags] ARTIFACT...",
		Short: "Verify artifacts' attestations against a trust policy before deploy",
		Long: `verify checks the attestation of each artifact against a trust policy: the
DSSE signature by a trusted key, the statement types, the artifact's SHA-256
among the subjects, the SLSA builder id, the TPM mode, the attestation key,
both TPM quotes (signature, nonce bound to the subjects, PCR digest, same
boot), the IMA log replayed to the quoted PCR 10 at the build window's
bounds, then the policy's golden PCRs, IMA rules and maximum age.

Exit status: 0 when every check passes, 1 when one fails (the report names it,
with the expected and found values), 2 for usage errors or unreadable input.`,
		Example: `  # verify app.tar against app.tar.intoto.jsonl
  attest-build verify --policy policy.yaml app.tar

  # an attestation elsewhere, a signer key given on the command line, JSON out
  attest-build verify --policy policy.yaml --key release.pub \
      --attestation build/attestation.intoto.jsonl --format json bin/app bin/tool`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.Exec(cmd, args)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func (o *verifyOptions) Exec(cmd *cobra.Command, artifacts []string) (err error) {
	if o.Format != "text" && o.Format != "json" {
		return usagef("--format %q: want text or json", o.Format)
	}
	lowGCHeadroom()
	// The Keylime runtime policies the policy imports load on another
	// core while the attestations are read; their errors are the policy's
	// and come first, before any other error or report.
	pol, err := policy.LoadPolicyConcurrent(o.Policy)
	if err != nil {
		return inputError(err) // 2 when it cannot be read, 1 when malformed
	}
	defer func() {
		if werr := pol.Wait(); werr != nil {
			err = inputError(werr)
		}
	}()
	keys, err := readSignerKeys(o.Keys)
	if err != nil {
		return err
	}
	var vsaSigner *provenance.Signer
	if o.VSA != "" || o.VSAKey != "" {
		if o.VSA == "" || o.VSAKey == "" {
			return usagef("--vsa and --vsa-key go together")
		}
		if o.VSAKey == provenance.KeyRefTPM {
			// The TPM signs the summary: opened (and the key made, when
			// missing) before anything is verified, so a TPM that cannot
			// sign fails the command before its report.
			ctx, stop := interruptContext(cmd.Context())
			defer stop()
			var release func() error
			vsaSigner, release, err = o.tpmKey.Signer(provenance.TPMConfig{Ref: o.tpm.Ref, Context: ctx, SignOnly: true})
			if err != nil {
				return fmt.Errorf("--vsa-key tpm: %w", err)
			}
			defer release()
		} else {
			var password []byte
			if pw, ok := os.LookupEnv(provenance.KeyPasswordEnv); ok {
				password = []byte(pw)
			}
			if vsaSigner, err = provenance.LoadSigner(o.VSAKey, password); err != nil {
				return inputError(fmt.Errorf("--vsa-key: %w", err))
			}
		}
	} else if cmd.Flags().Changed("tpm") || cmd.Flags().Changed("tpm-key-auth") || cmd.Flags().Changed("tpm-key-handle") {
		return usagef("--tpm, --tpm-key-auth and --tpm-key-handle name the key of --vsa-key tpm; give --vsa FILE --vsa-key tpm")
	}
	v, err := verify.NewVerifier(pol, verify.WithSignerKeys(keys...), verify.WithBaselines(o.Baselines...))
	if err != nil {
		return usagef("%v", err)
	}
	// Bundles: their envelopes make one attestation, named by the first
	// bundle, the TPM/IMA statement's envelope first (where a
	// TPM-resident signer is looked for: verify's signature check).
	var fromBundles []byte
	if len(o.Bundles) > 0 {
		if o.Attestation != "" {
			return usagef("--bundle and --attestation: give one or the other")
		}
		var tpmIMA, others []byte
		for _, b := range o.Bundles {
			data, err := cappedfile.Read(b, verify.DefaultMaxAttestationBytes) // the attestation size limit
			if err != nil {
				return inputError(fmt.Errorf("--bundle: %w", err))
			}
			line, err := provenance.EnvelopeFromBundle(data)
			if err != nil {
				return fmt.Errorf("--bundle %s: %w", b, err)
			}
			if isTPMIMAEnvelope(line) {
				tpmIMA = append(append(tpmIMA, line...), '\n')
			} else {
				others = append(append(others, line...), '\n')
			}
		}
		fromBundles = append(tpmIMA, others...)
		o.Attestation = o.Bundles[0]
	}

	// Group the artifacts by attestation file, keeping the order given.
	var order []string
	groups := map[string][]verify.Artifact{}
	for _, path := range artifacts {
		a, err := verify.ArtifactFromFile(path)
		if err != nil {
			return inputError(err)
		}
		att := o.Attestation
		if att == "" {
			att = path + ".intoto.jsonl"
		}
		if _, ok := groups[att]; !ok {
			order = append(order, att)
		}
		groups[att] = append(groups[att], a)
	}

	var results []verify.AttestationResult
	var allArtifacts []verify.Artifact
	failed := false
	for _, att := range order {
		arts := groups[att]
		res := verify.AttestationResult{Attestation: att}
		for _, a := range arts {
			res.Artifacts = append(res.Artifacts, a.Name)
		}
		allArtifacts = append(allArtifacts, arts...)
		var f io.Reader
		if fromBundles != nil {
			f = bytes.NewReader(fromBundles)
		} else {
			file, err := os.Open(att)
			if err != nil {
				return inputError(fmt.Errorf("opening attestation: %w", err))
			}
			defer file.Close()
			f = file
		}
		var log io.Reader
		if logPath := detachedLogPath(o.IMALog, att); logPath != "" {
			lf, err := os.Open(logPath)
			if err != nil {
				return inputError(fmt.Errorf("--ima-log: %w", err))
			}
			defer lf.Close()
			log = lf
		}
		rep, err := v.VerifyDetached(cmd.Context(), f, log, arts[0], arts[1:]...)
		var ce *verify.CheckError
		switch {
		case err == nil:
			res.Verdict, res.Checks, res.Facts = rep.Verdict, rep.Checks, rep.Facts
		case errors.As(err, &ce):
			failed = true
			res.Verdict, res.Checks, res.Facts, res.Error = verify.StatusFail, ce.Report.Checks, ce.Report.Facts, err.Error()
		default:
			return inputError(fmt.Errorf("%s: %w", att, err)) // 2 when it cannot be read
		}
		results = append(results, res)
	}
	if err := pol.Wait(); err != nil {
		return err // reported by the deferred Wait
	}

	out := cmd.OutOrStdout()
	if o.Format == "json" {
		verdict := verify.StatusPass
		if failed {
			verdict = verify.StatusFail
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		tool := buildinfo.Read()
		if err := enc.Encode(verify.VerifyOutput{Verdict: verdict, Results: results, Tool: &tool}); err != nil {
			return err
		}
	} else {
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(out)
			}
			// Text from the attestation (names, paths) is shown with
			// control and bidi characters escaped.
			var buf strings.Builder
			writeTextReport(&buf, r)
			io.WriteString(out, predicates.Printable(buf.String()))
		}
	}
	if vsaSigner != nil {
		if err := o.writeVSA(cmd, vsaSigner, artifacts[0], order, results, allArtifacts, pol); err != nil {
			return err
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// writeVSA signs and writes the verification summary of results.
func (o *verifyOptions) writeVSA(cmd *cobra.Command, signer *provenance.Signer, first string, attestations []string, results []verify.AttestationResult, artifacts []verify.Artifact, pol *policy.Policy) error {
	fileURI := func(p string) (string, error) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
	}
	vo := verify.VSAOptions{Policy: pol, ResourceURI: o.ResourceURI, PolicyURI: o.PolicyURI, Subjects: artifacts}
	var err error
	if vo.ResourceURI == "" {
		if vo.ResourceURI, err = fileURI(first); err != nil {
			return err
		}
	}
	if vo.PolicyURI == "" {
		if vo.PolicyURI, err = fileURI(o.Policy); err != nil {
			return err
		}
	}
	if vo.PolicyContent, err = os.ReadFile(o.Policy); err != nil {
		return inputError(fmt.Errorf("reading the policy for the summary: %w", err))
	}
	for i, att := range attestations {
		files := []string{att}
		if len(o.Bundles) > 0 {
			files = o.Bundles
		}
		for _, file := range files {
			in := verify.VSAInput{Result: results[i]}
			if in.URI, err = fileURI(file); err != nil {
				return err
			}
			if in.Content, err = os.ReadFile(file); err != nil {
				return inputError(fmt.Errorf("reading %s for the summary: %w", file, err))
			}
			vo.Inputs = append(vo.Inputs, in)
		}
	}
	st, err := verify.VSAStatement(vo)
	if err != nil {
		return usagef("--vsa: %v", err)
	}
	env, err := signer.SignStatement(cmd.Context(), st)
	if err != nil {
		return err
	}
	if err := provenance.WriteJSONL(o.VSA, [][]byte{env}); err != nil {
		return err
	}
	by := "key"
	if signer.InTPM() {
		by = "TPM key"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: wrote the verification summary %s, signed by %s %s\n", o.VSA, by, signer.Fingerprint())
	return nil
}

// isTPMIMAEnvelope reports whether a DSSE envelope's payload is a statement
// of the TPM/IMA predicateType (read for ordering only: verify checks it).
func isTPMIMAEnvelope(line []byte) bool {
	var env struct {
		Payload []byte `json:"payload"`
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	return json.Unmarshal(line, &env) == nil && json.Unmarshal(env.Payload, &st) == nil && st.PredicateType == predicates.TPMIMAType
}

// detachedLogPath is the detached IMA log to read for the attestation or
// bundle file att: flag when given, else the file --detach-log names
// beside att when it exists, else "".
func detachedLogPath(flag, att string) string {
	if flag != "" {
		return flag
	}
	if p := provenance.DetachedLogPath(provenance.AttestationBase(att) + ".intoto.jsonl"); fileExists(p) {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// readSignerKeys reads the --key files (PEM public keys): a file that cannot
// be read is a usage error (exit 2), one that holds no public key exit 1.
func readSignerKeys(paths []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, inputError(fmt.Errorf("--key: %w", err))
		}
		pub, err := provenance.LoadPublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", p, err)
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

// writeTextReport prints a report a person reads at a glance.
func writeTextReport(w io.Writer, r verify.AttestationResult) {
	verdict := "PASS"
	if r.Verdict != verify.StatusPass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s (%s)\n", verdict, strings.Join(r.Artifacts, ", "), r.Attestation)
	f := r.Facts
	for _, s := range f.Subjects {
		fmt.Fprintf(w, "  subject      %s sha256:%s\n", predicates.PrintableField(s.Name), s.SHA256)
	}
	if len(f.Signers) > 0 {
		fmt.Fprintf(w, "  signed by    %s\n", strings.Join(f.Signers, ", "))
	}
	if f.BuilderID != "" {
		fmt.Fprintf(w, "  builder      %s\n", f.BuilderID)
	}
	if f.TPMMode != "" {
		fmt.Fprintf(w, "  TPM mode     %s (the signer's word: nothing proves the AK's hardware origin yet)\n", f.TPMMode)
	}
	if f.AKFingerprint != "" {
		fmt.Fprintf(w, "  AK           %s (builder %s)\n", f.AKFingerprint, f.AKBuilder)
	}
	if m := f.IMA; m != nil {
		if m.Present {
			fmt.Fprintf(w, "  IMA          %s (%s), window [%d, %d): %d in the build's window; rules over the %s scope: %s, %d excluded, %s\n",
				plural(m.LogEntries, "entry", "entries"), m.Bank, m.WindowStart, m.WindowEnd, m.WindowEnd-m.WindowStart, m.Scope,
				plural(m.InScope, "entry", "entries"), m.Excluded, plural(m.Violations, "violation", "violations"))
		} else {
			fmt.Fprintf(w, "  IMA          no log\n")
		}
		// Each finding once, here; the failed ima-rules check below
		// refers to this list.
		for _, fd := range m.Findings {
			fmt.Fprintf(w, "    ! %s (rule %s)\n", fd, fd.Rule)
		}
		if m.FindingsTotal > len(m.Findings) {
			fmt.Fprintf(w, "    ! ... %d more\n", m.FindingsTotal-len(m.Findings))
		}
	}
	if b := f.Boot; b != nil {
		if b.Present {
			for i, line := range b.Summary {
				label := ""
				if i == 0 {
					label = "boot"
				}
				// Paths, subjects and the command line come from the
				// attestation: one line each, whatever they hold.
				fmt.Fprintf(w, "  %-12s %s\n", label, predicates.PrintableField(line))
			}
			fmt.Fprintf(w, "  %-12s %s\n", "", b.BootAggregate)
		} else {
			fmt.Fprintf(w, "  boot         no firmware event log (%s)\n", predicates.PrintableField(b.Reason))
		}
		for _, fd := range b.Findings {
			fmt.Fprintf(w, "    ! %s\n", predicates.PrintableField(fd.String()))
		}
	}
	if f.FinishedOn != nil {
		fmt.Fprintf(w, "  finished     %s\n", f.FinishedOn.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if len(f.SignersWord) > 0 {
		fmt.Fprintf(w, "  signer's word (not verified): %s\n", strings.Join(f.SignersWord, "; "))
	}
	fmt.Fprintln(w, "  checks")
	for _, c := range r.Checks {
		mark := map[verify.Status]string{verify.StatusPass: "ok  ", verify.StatusFail: "FAIL", verify.StatusSkipped: "--  "}[c.Status]
		detail := c.Detail
		listed := c.Check == verify.CheckIMARules && c.Status == verify.StatusFail && f.IMA != nil && len(f.IMA.Findings) > 0
		if listed {
			verb := "break"
			if f.IMA.FindingsTotal == 1 {
				verb = "breaks"
			}
			detail = fmt.Sprintf("%d of the %s in scope %s the policy's rules (listed under IMA above)",
				f.IMA.FindingsTotal, plural(f.IMA.InScope, "entry", "entries"), verb)
		}
		line := fmt.Sprintf("    %s %-16s %s", mark, c.Check, detail)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if c.Status == verify.StatusFail && !listed {
			fmt.Fprintf(w, "         expected: %s\n         found:    %s\n", c.Expected, c.Found)
		}
	}
}

// plural is "1 entry", "2 entries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// verifyGCPercent is verify's GOGC. What verify holds is mostly two byte
// arenas without pointers, the attestation's decoded payload and the
// policy's allowlist (a 200,000-entry log under a 200,000-path allowlist:
// 17 and 13 MB), which a GC cycle need not scan: cycles are cheap, and the
// default headroom (GOGC=100: as much again as is live) would be most of
// the memory used. docs/benchmarks.md, "Large allowlists", has figures.
const verifyGCPercent = 5

// lowGCHeadroom sets verify's GOGC unless the GOGC environment variable
// sets one.
func lowGCHeadroom() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(verifyGCPercent)
	}
}
