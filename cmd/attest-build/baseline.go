package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
)

// baselineOptions are the flags of attest-build baseline: the build's
// signing key, TPM and IMA log flags, and the output.
type baselineOptions struct {
	build  buildOptions
	output string
}

func newBaselineCommand() *cobra.Command {
	o := &baselineOptions{}
	cmd := &cobra.Command{
		Use:   "baseline -o FILE",
		Short: "Make an IMA baseline: a signed quote and the IMA log up to it, once per boot",
		Long: `Quote PCR 10 with a random nonce and write a signed baseline statement
(predicate tpm-ima-baseline/v0.1) carrying the quote and the IMA log up to it.
Builds given --baseline FILE then carry only the log entries after it; verify
needs the baseline beside their attestations (verify --baseline FILE).
A baseline holds for one boot of one TPM and attestation key
(attest-build --baseline-dir DIR makes and reuses one per boot by itself).`,
		Example: `  # once per boot: the baseline, then builds that carry only what follows it
  attest-build baseline -k signing.pem -o /var/lib/attest-build/boot.baseline.intoto.jsonl
  attest-build -k signing.pem --baseline /var/lib/attest-build/boot.baseline.intoto.jsonl -- make
  attest-build verify --policy policy.yaml --baseline /var/lib/attest-build/boot.baseline.intoto.jsonl app.tar

  # or let the first build after boot make it
  attest-build -k signing.pem --baseline-dir /var/lib/attest-build/baselines -- make`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd) },
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.output, "output", "o", "", "write the baseline to `FILE` (required)")
	b := &o.build
	fs.StringVarP(&b.key, "key", "k", "", "the signing key `REF`, as for a build")
	fs.StringVar(&b.akCert, "ak-cert", "", "the AK's certificate `FILE`, as for a build")
	b.tpmKey.AddFlags(cmd)
	b.tpm.AddFlags(cmd)
	b.ak.AddFlags(cmd)
	fs.StringVar(&b.imaLog, "ima-log", "", "the IMA measurement log `PATH`, binary form (default "+provenance.DefaultIMALog+")")
	fs.StringVar(&b.pcrs, "pcrs", tpm.DefaultPCRSelection, "the PCR `SELECTION` to quote; must include PCR 10")
	return cmd
}

// Exec makes the baseline.
func (o *baselineOptions) Exec(cmd *cobra.Command) error {
	if o.output == "" {
		return usagef("no output: pass -o/--output FILE")
	}
	sel, err := tpm.ParsePCRSelection(o.build.pcrs)
	if err == nil {
		err = provenance.CheckPCRSelection(sel)
	}
	if err != nil {
		return usagef("--pcrs: %w", err)
	}
	signer, opener, release, err := o.build.open(cmd, sel)
	if err != nil {
		return err
	}
	defer release()
	ref, err := provenance.MakeBaseline(cmd.Context(), provenance.BaselineOptions{Signer: signer, TPM: opener, IMALog: o.build.imaLog, Output: o.output})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: wrote %s (IMA baseline: %d entries, %s PCR 10 %x, resetCount %d, restartCount %d)\n",
		ref.Path, ref.Entries, ref.Bank, ref.PCRValue, ref.ResetCount, ref.RestartCount)
	return nil
}
