package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
	"github.com/spf13/cobra"
)

// tpmOptions is the --tpm flag every command that talks to a TPM shares.
type tpmOptions struct {
	Ref string
}

// AddFlags registers --tpm on cmd.
func (o *tpmOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Ref, "tpm", tpm.RefAuto,
		"the TPM to use, a `REF`: auto (/dev/tpmrm0, then /dev/tpm0), a device path, swtpm:SOCKET, or sim (in-process simulator, fixed seed: tests and demos only)")
}

// Open opens the TPM the flag names.
func (o *tpmOptions) Open() (*tpm.TPM, error) {
	return tpm.Open(o.Ref)
}

// akOptions selects the attestation key (shared by commands that quote).
type akOptions struct {
	Alg    string
	Handle string
}

// AddFlags registers --ak-alg and --ak-handle on cmd.
func (o *akOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Alg, "ak-alg", string(tpm.AKECCP256), "attestation key `ALGORITHM`: ecc-p256 or rsa-2048")
	cmd.Flags().StringVar(&o.Handle, "ak-handle", "",
		fmt.Sprintf("persistent `HANDLE` of the attestation key (default 0x%08x for ecc-p256, 0x%08x for rsa-2048)", tpm.DefaultAKHandleECC, tpm.DefaultAKHandleRSA))
}

// Options validates the flags into tpm.AKOptions (a usage error when bad).
func (o *akOptions) Options() (tpm.AKOptions, error) {
	opts := tpm.AKOptions{Alg: tpm.AKAlg(o.Alg)}
	if opts.Alg != tpm.AKECCP256 && opts.Alg != tpm.AKRSA2048 {
		return opts, usagef("--ak-alg %q: want ecc-p256 or rsa-2048", o.Alg)
	}
	if o.Handle != "" {
		h, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(o.Handle), "0x"), 16, 32)
		if err != nil {
			return opts, usagef("--ak-handle %q: want a hex handle such as 0x%08x", o.Handle, tpm.DefaultAKHandleECC)
		}
		opts.Handle = uint32(h)
	}
	return opts, nil
}

func newTPMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tpm",
		Short: "Inspect the TPM, manage its attestation key and enroll it with an attestation CA",
	}
	cmd.AddCommand(newTPMAKCmd(), newTPMInfoCmd(), newTPMEnrollRequestCmd(), newTPMActivateCmd(), newTPMEnrollCmd(), newTPMSigningKeyCmd())
	return cmd
}

type tpmAKOptions struct {
	tpm tpmOptions
	ak  akOptions
	Out string
}

func newTPMAKCmd() *cobra.Command {
	o := &tpmAKOptions{}
	cmd := &cobra.Command{
		Use:   "ak",
		Short: "Create the attestation key if missing, and print its public key and fingerprint",
		Long: `ak makes sure the TPM holds attest-build's attestation key (a restricted
signing key, ECC P-256 by default, persistent in the owner hierarchy) and
prints its public key (PEM) and fingerprint (sha256 of the PKIX DER).
Running it again reuses the same key. Give the PEM to verifiers: it is
what a policy's trusted attestation keys list.`,
		Example: `  # Create (or reuse) the AK on the machine's TPM, save its public key
  attest-build tpm ak --out ak.pub

  # RSA-2048 AK at a chosen handle, on an swtpm
  attest-build tpm ak --tpm swtpm:/run/swtpm/sock --ak-alg rsa-2048 --ak-handle 0x81008a10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Exec(cmd.OutOrStdout())
		},
	}
	o.tpm.AddFlags(cmd)
	o.ak.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Out, "out", "", "also write the AK public key (PEM) to `FILE`")
	return cmd
}

// Exec ensures the AK and prints it.
func (o *tpmAKOptions) Exec(w io.Writer) error {
	opts, err := o.ak.Options()
	if err != nil {
		return err
	}
	t, err := o.tpm.Open()
	if err != nil {
		return err
	}
	defer t.Close()
	ak, err := t.EnsureAK(opts)
	if err != nil {
		return err
	}
	if o.Out != "" {
		if err := provenance.WriteFileAtomic(o.Out, ak.PEM(), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "# attestation key %s at handle 0x%08x (%s TPM)\n# fingerprint %s\n%s",
		ak.Alg, ak.Handle, t.Mode(), ak.Fingerprint(), ak.PEM())
	return nil
}

type tpmInfoOptions struct {
	tpm tpmOptions
}

func newTPMInfoCmd() *cobra.Command {
	o := &tpmInfoOptions{}
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Print the TPM's manufacturer, firmware, PCR banks and EK certificates",
		Example: `  attest-build tpm info
  attest-build tpm info --tpm swtpm:/tmp/swtpm/sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Exec(cmd.OutOrStdout())
		},
	}
	o.tpm.AddFlags(cmd)
	return cmd
}

// Exec prints the TPM's identity.
func (o *tpmInfoOptions) Exec(w io.Writer) error {
	t, err := o.tpm.Open()
	if err != nil {
		return err
	}
	defer t.Close()
	info, err := t.Info()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "tpm:              %s (%s)\n", t.Ref(), t.Mode())
	fmt.Fprintf(w, "manufacturer:     %s (0x%08x)\n", info.Manufacturer, info.ManufacturerID)
	fmt.Fprintf(w, "vendor:           %s\n", info.VendorStrings)
	fmt.Fprintf(w, "firmware:         %s\n", info.FirmwareString())
	fmt.Fprintf(w, "spec revision:    %d.%02d\n", info.SpecRevision/100, info.SpecRevision%100)
	fmt.Fprintf(w, "pcr banks:        %s\n", strings.Join(info.PCRBanks, ", "))
	if len(info.EKCerts) == 0 {
		fmt.Fprintf(w, "ek certificates:  none in NV\n")
	}
	for _, c := range info.EKCerts {
		fmt.Fprintf(w, "ek certificate:   NV 0x%08x, %s, %d bytes\n", c.Index, c.Kind, len(c.DER))
	}
	return nil
}
