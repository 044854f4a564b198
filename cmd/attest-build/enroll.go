package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/internal/atomicfile"
	"github.com/attest-build/attest-build/tpm"
)

// akTPMOptions are the flags of a command that uses the TPM's AK.
type akTPMOptions struct {
	tpm tpmOptions
	ak  akOptions
}

func (o *akTPMOptions) AddFlags(cmd *cobra.Command) {
	o.tpm.AddFlags(cmd)
	o.ak.AddFlags(cmd)
}

// open opens the TPM and makes sure of its AK; the caller closes the TPM.
func (o *akTPMOptions) open() (*tpm.TPM, *tpm.AK, error) {
	opts, err := o.ak.Options()
	if err != nil {
		return nil, nil, err
	}
	t, err := o.tpm.Open()
	if err != nil {
		return nil, nil, err
	}
	ak, err := t.EnsureAK(opts)
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return t, ak, nil
}

type tpmEnrollRequestOptions struct {
	akTPMOptions
	Out string
}

func newTPMEnrollRequestCmd() *cobra.Command {
	o := &tpmEnrollRequestOptions{}
	cmd := &cobra.Command{
		Use:   "enroll-request -o REQUEST",
		Short: "Write an enrollment request for the AK (EK certificates, EK and AK public areas)",
		Example: `  attest-build tpm enroll-request -o req.json
  # carry req.json to the CA: attest-build ca challenge ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd.OutOrStdout()) },
	}
	o.akTPMOptions.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "write the request to `FILE`")
	cmd.MarkFlagRequired("output")
	return cmd
}

// Exec writes the request.
func (o *tpmEnrollRequestOptions) Exec(w io.Writer) error {
	t, ak, err := o.open()
	if err != nil {
		return err
	}
	defer t.Close()
	q, err := attestca.NewRequest(t, ak)
	if err != nil {
		return err
	}
	if err := writeJSONFile(o.Out, q); err != nil {
		return err
	}
	fmt.Fprintf(w, "enrollment request for AK %s (%s EK, %d EK certificate(s)) in %s\n", ak.Fingerprint(), q.EKKind, len(q.EKCertificates), o.Out)
	return nil
}

type tpmActivateOptions struct {
	akTPMOptions
	Out string
}

func newTPMActivateCmd() *cobra.Command {
	o := &tpmActivateOptions{}
	cmd := &cobra.Command{
		Use:     "activate -o RESPONSE CHALLENGE",
		Short:   "Answer the CA's challenge with TPM2_ActivateCredential",
		Example: `  attest-build tpm activate -o resp.json chal.json`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.Exec(cmd.OutOrStdout(), args[0]) },
	}
	o.akTPMOptions.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "write the response to `FILE` (mode 0600: it holds the secret)")
	cmd.MarkFlagRequired("output")
	return cmd
}

// Exec answers the challenge.
func (o *tpmActivateOptions) Exec(w io.Writer, chalFile string) error {
	f, err := os.Open(chalFile)
	if err != nil {
		return inputError(err)
	}
	defer f.Close()
	c, err := attestca.ReadChallenge(f)
	if err != nil {
		return fmt.Errorf("%s: %w", chalFile, err)
	}
	t, ak, err := o.open()
	if err != nil {
		return err
	}
	defer t.Close()
	s, err := attestca.Activate(t, ak, c)
	if err != nil {
		return err
	}
	b, err := jsonIndent(s)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(o.Out, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(w, "answered challenge %s in %s\n", c.ID, o.Out)
	return nil
}

type tpmEnrollOptions struct {
	akTPMOptions
	URL    string
	CACert string
	Out    string
}

func newTPMEnrollCmd() *cobra.Command {
	o := &tpmEnrollOptions{}
	cmd := &cobra.Command{
		Use:     "enroll --ca-url URL --ca-cert CA.pem -o AK.pem",
		Short:   "Enroll the AK with an attestation CA over HTTPS and save its certificate",
		Example: `  attest-build tpm enroll --ca-url https://ca.example.org:8443 --ca-cert ca.pem -o /etc/attest-build/ak.pem`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd.Context(), cmd.OutOrStdout()) },
	}
	o.akTPMOptions.AddFlags(cmd)
	cmd.Flags().StringVar(&o.URL, "ca-url", "", "the enrollment service's base `URL` (attest-build ca serve)")
	cmd.Flags().StringVar(&o.CACert, "ca-cert", "", "the CA certificate (PEM `FILE`) to trust for TLS (default: the system's roots)")
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "write the AK certificate and the CA certificate (PEM) to `FILE`")
	cmd.MarkFlagRequired("ca-url")
	cmd.MarkFlagRequired("output")
	return cmd
}

// Exec enrolls.
func (o *tpmEnrollOptions) Exec(ctx context.Context, w io.Writer) error {
	var client *attestca.Client
	if o.CACert != "" {
		certs, err := ekcert.ReadCertificates(o.CACert)
		if err != nil {
			return inputError(fmt.Errorf("--ca-cert: %w", err))
		}
		client = attestca.NewClient(o.URL, certs[0])
	} else {
		client = attestca.NewClient(o.URL, nil)
	}
	t, ak, err := o.open()
	if err != nil {
		return err
	}
	defer t.Close()
	if ctx == nil {
		ctx = context.Background()
	}
	der, err := client.Enroll(ctx, t, ak)
	if err != nil {
		return err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if o.CACert != "" {
		b, _ := os.ReadFile(o.CACert)
		out = append(out, b...)
	}
	if err := atomicfile.Write(o.Out, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "enrolled AK %s: certificate in %s\n", ak.Fingerprint(), o.Out)
	return nil
}
