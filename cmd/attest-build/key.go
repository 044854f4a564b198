package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/attest-build/attest-build/provenance"
)

// keyGenerateOptions are the flags of `attest-build key generate`.
type keyGenerateOptions struct {
	out       string
	algorithm string
}

// AddFlags registers the flags on fs.
func (o *keyGenerateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.out, "out", "", "write `PREFIX`.key (private, mode 0600) and PREFIX.pub (required)")
	fs.StringVar(&o.algorithm, "algorithm", string(provenance.KeyECDSAP256), "key `ALGORITHM`: ecdsa-p256, ecdsa-p384, ed25519 or rsa-3072")
}

func newKeyCommand() *cobra.Command {
	key := &cobra.Command{
		Use:   "key",
		Short: "Manage attestation signing keys",
		Example: `  # signing.key (private, 0600) for the build, signing.pub for verifiers
  attest-build key generate --out signing`,
	}
	o := &keyGenerateOptions{}
	gen := &cobra.Command{
		Use:   "generate --out PREFIX",
		Short: "Generate a signing key pair",
		Long: `Generate a signing key pair: PREFIX.key (PEM private key, mode 0600) and
PREFIX.pub (PEM public key, for verifiers). With ` + provenance.KeyPasswordEnv + `
set and not empty the private key is encrypted (sigstore's scrypt +
secretbox format, readable by cosign). Existing files are never overwritten.`,
		Example: `  attest-build key generate --out signing
  ATTEST_BUILD_KEY_PASSWORD=... attest-build key generate --out ci --algorithm ecdsa-p384`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.out == "" {
				return usagef("key generate: --out PREFIX is required")
			}
			alg := provenance.KeyAlgorithm(o.algorithm)
			switch alg {
			case provenance.KeyECDSAP256, provenance.KeyECDSAP384, provenance.KeyEd25519, provenance.KeyRSA3072:
			default:
				return usagef("key generate: --algorithm %q: want ecdsa-p256, ecdsa-p384, ed25519 or rsa-3072", o.algorithm)
			}
			s, err := provenance.GenerateKey(o.out, alg, []byte(os.Getenv(provenance.KeyPasswordEnv)))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s.key\n%s.pub\nfingerprint %s\n", o.out, o.out, s.Fingerprint())
			return nil
		},
	}
	o.AddFlags(gen.Flags())
	key.AddCommand(gen)
	return key
}
