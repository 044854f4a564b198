package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
)

// akCertEnv names the variable that gives --ak-cert's default.
const akCertEnv = "ATTEST_BUILD_AK_CERT"

// akCertCloud is the --ak-cert value that takes the cloud's AK.
const akCertCloud = "cloud"

// readAKCert reads the AK certificate chain of --ak-cert; none is fine.
func readAKCert(path string) ([][]byte, error) {
	if path == "" {
		return nil, nil
	}
	certs, err := ekcert.ReadCertificates(path)
	if err != nil {
		return nil, inputError(fmt.Errorf("--ak-cert: %w", err))
	}
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out, nil
}

// tpmKeyOptions name the TPM-resident signing key.
type tpmKeyOptions struct {
	AuthFile string
	Handle   string
}

// AddFlags registers --tpm-key-auth and --tpm-key-handle.
func (o *tpmKeyOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.AuthFile, "tpm-key-auth", "", "the TPM signing key's authorization `FILE` (32 bytes, mode 0600, readable only by the attesting user; default $XDG_CONFIG_HOME/attest-build/tpm-signing-key.auth)")
	cmd.Flags().StringVar(&o.Handle, "tpm-key-handle", "", fmt.Sprintf("persistent `HANDLE` of the TPM signing key (default 0x%08x)", tpm.DefaultSigningKeyHandle))
}

// Key validates the flags; create says whether a missing key is made.
func (o *tpmKeyOptions) Key(create bool) (*provenance.TPMKey, error) {
	k := &provenance.TPMKey{AuthFile: o.AuthFile, Create: create}
	if k.AuthFile == "" {
		p, err := provenance.DefaultTPMKeyAuthFile()
		if err != nil {
			return nil, err
		}
		k.AuthFile = p
	}
	if o.Handle != "" {
		h, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(o.Handle), "0x"), 16, 32)
		if err != nil {
			return nil, usagef("--tpm-key-handle %q: want a hex handle such as 0x%08x", o.Handle, tpm.DefaultSigningKeyHandle)
		}
		k.Handle = uint32(h)
	}
	return k, nil
}

// Signer opens the TPM of cfg with the signing key the flags name (made,
// with its authorization file, when missing) and returns the TPM signer
// and the function that releases the TPM.
func (o *tpmKeyOptions) Signer(cfg provenance.TPMConfig) (*provenance.Signer, func() error, error) {
	key, err := o.Key(true)
	if err != nil {
		return nil, nil, err
	}
	cfg.SigningKey = key
	open, release, err := provenance.OpenTPM(cfg)
	if err != nil {
		return nil, nil, err
	}
	s, err := provenance.NewTPMSigner(open)
	if err != nil {
		release()
		return nil, nil, err
	}
	return s, release, nil
}

type tpmSigningKeyOptions struct {
	akTPMOptions
	key tpmKeyOptions
	Out string
}

func newTPMSigningKeyCmd() *cobra.Command {
	o := &tpmSigningKeyOptions{}
	cmd := &cobra.Command{
		Use:   "signing-key",
		Short: "Create (if missing) the TPM-resident DSSE signing key and print its public key",
		Long: `signing-key makes sure the TPM holds attest-build's signing key (-k tpm): an
ECC P-256 key made in the TPM (fixedTPM, fixedParent, sensitiveDataOrigin, not
restricted), persistent, usable only with its authorization value, which is
kept in a file only the attesting user can read (--tpm-key-auth, mode 0600).
Run builds as another user: they cannot read the file, so they cannot sign.
Each attestation carries the key's certification by the AK (TPM2_Certify).`,
		Example: `  attest-build tpm signing-key
  attest-build tpm signing-key --tpm-key-auth /etc/attest-build/key.auth --out signing.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd.OutOrStdout()) },
	}
	o.akTPMOptions.AddFlags(cmd)
	o.key.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Out, "out", "", "also write the public key (PEM) to `FILE`")
	return cmd
}

// Exec ensures the key and prints it.
func (o *tpmSigningKeyOptions) Exec(w io.Writer) error {
	key, err := o.key.Key(true)
	if err != nil {
		return err
	}
	akOpts, err := o.ak.Options()
	if err != nil {
		return err
	}
	s, release, err := o.key.Signer(provenance.TPMConfig{Ref: o.tpm.Ref, AK: akOpts})
	if err != nil {
		return err
	}
	defer release()
	p, err := tpm.PublicKeyPEM(s.PublicKey())
	if err != nil {
		return err
	}
	if o.Out != "" {
		if err := provenance.WriteFileAtomic(o.Out, p, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "# TPM signing key, authorization in %s\n# fingerprint %s\n%s", key.AuthFile, s.Fingerprint(), p)
	return nil
}
