package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/attestca"
	"github.com/attest-build/attest-build/ekcert"
	"github.com/attest-build/attest-build/internal/atomicfile"
)

func newCACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Run an attestation CA: enroll TPM attestation keys by credential activation",
		Long: `An attestation CA issues X.509 certificates to TPM attestation keys (AKs)
after proving, by credential activation, that each AK lives in the TPM whose
endorsement key (EK) certificate chains to a manufacturer CA the CA trusts.
Verifiers then trust the CA (policy attestationKeyCAs) instead of each AK.

By files (no network):
  runner$ attest-build tpm enroll-request -o req.json
  ca$     attest-build ca challenge --ca DIR --ek-roots ROOTS -o chal.json req.json
  runner$ attest-build tpm activate -o resp.json chal.json
  ca$     attest-build ca issue --ca DIR -o ak.pem resp.json
Over HTTPS: 'ca serve' on the CA, 'tpm enroll --ca-url' on the runner.`,
	}
	cmd.AddCommand(newCAInitCmd(), newCAChallengeCmd(), newCAIssueCmd(), newCARevokeCmd(), newCAServeCmd())
	return cmd
}

type caInitOptions struct {
	Dir, Name, ImportKey, ImportCert string
}

func newCAInitCmd() *cobra.Command {
	o := &caInitOptions{}
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create an attestation CA (a new key and self-signed certificate, or imported ones)",
		Example: `  attest-build ca init --dir /srv/attest-ca
  attest-build ca init --dir /srv/attest-ca --import-key ca.key --import-cert ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd.OutOrStdout()) },
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "the CA's `DIR`ectory (created; its ca.key is mode 0600)")
	cmd.Flags().StringVar(&o.Name, "name", "", "the CA certificate's common `NAME` (default \"attest-build attestation CA\")")
	cmd.Flags().StringVar(&o.ImportKey, "import-key", "", "import an existing CA private key (PEM `FILE`) instead of making one")
	cmd.Flags().StringVar(&o.ImportCert, "import-cert", "", "the certificate (PEM `FILE`) of the imported key")
	cmd.MarkFlagRequired("dir")
	cmd.MarkFlagsRequiredTogether("import-key", "import-cert")
	return cmd
}

// Exec creates the CA.
func (o *caInitOptions) Exec(w io.Writer) error {
	in := attestca.InitOptions{Name: o.Name}
	if o.ImportKey != "" {
		var err error
		if in.KeyPEM, err = os.ReadFile(o.ImportKey); err != nil {
			return inputError(fmt.Errorf("--import-key: %w", err))
		}
		if in.CertPEM, err = os.ReadFile(o.ImportCert); err != nil {
			return inputError(fmt.Errorf("--import-cert: %w", err))
		}
	}
	ca, err := attestca.Init(o.Dir, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "attestation CA %q in %s\ngive verifiers %s/%s (policy attestationKeyCAs)\n", ca.Certificate().Subject.CommonName, o.Dir, o.Dir, attestca.CertFile)
	return nil
}

// ekTrustOptions are the EK anchors of a CA, by class.
type ekTrustOptions struct {
	Hardware, Software, HardwarePins, SoftwarePins []string
}

// AddFlags registers the anchor flags on cmd.
func (o *ekTrustOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVar(&o.Hardware, "ek-roots", nil, "TPM manufacturers' EK CA certificates: a `PATH` (directory, PEM bundle or DER file); TPMs enrolled under them are hardware; repeatable")
	fs.StringArrayVar(&o.Software, "software-ek-roots", nil, "EK CA certificates of software TPMs (e.g. swtpm's local CA): a `PATH`; TPMs enrolled under them are software; repeatable")
	fs.StringArrayVar(&o.HardwarePins, "ek-pins", nil, "pinned EK public keys (PEM `PATH`) of hardware TPMs without an EK certificate; repeatable")
	fs.StringArrayVar(&o.SoftwarePins, "software-ek-pins", nil, "pinned EK public keys (PEM `PATH`) of software or virtual TPMs without an EK certificate; repeatable")
}

// Trust loads the anchors; none at all is a usage error.
func (o *ekTrustOptions) Trust() (*ekcert.Trust, error) {
	tr := ekcert.NewTrust()
	for _, s := range []struct {
		paths []string
		class ekcert.Class
		pins  bool
	}{{o.Hardware, ekcert.ClassHardware, false}, {o.Software, ekcert.ClassSoftware, false}, {o.HardwarePins, ekcert.ClassHardware, true}, {o.SoftwarePins, ekcert.ClassSoftware, true}} {
		for _, p := range s.paths {
			var err error
			if s.pins {
				_, err = tr.LoadPins(s.class, p)
			} else {
				_, err = tr.Load(s.class, p)
			}
			if err != nil {
				return nil, inputError(err)
			}
		}
	}
	if tr.Empty() {
		return nil, usagef("no EK anchors: give --ek-roots, --software-ek-roots, --ek-pins or --software-ek-pins")
	}
	return tr, nil
}

type caChallengeOptions struct {
	CA    string
	Out   string
	TTL   time.Duration
	Trust ekTrustOptions
}

func newCAChallengeCmd() *cobra.Command {
	o := &caChallengeOptions{}
	cmd := &cobra.Command{
		Use:   "challenge --ca DIR --ek-roots PATH -o CHALLENGE REQUEST",
		Short: "Verify an enrollment request and write its credential-activation challenge",
		Long: `challenge verifies the runner's EK certificate against the EK anchors and
the AK's attributes (restricted signing key, fixedTPM, fixedParent,
sensitiveDataOrigin), then makes a credential for that EK bound to the AK's
name (TPM2_MakeCredential in software). Its secret stays in the CA directory,
for one answer, until --ttl has passed.`,
		Example: `  attest-build ca challenge --ca /srv/attest-ca --ek-roots /srv/ek-roots -o chal.json req.json`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.Exec(cmd.OutOrStdout(), args[0]) },
	}
	cmd.Flags().StringVar(&o.CA, "ca", "", "the CA `DIR`ectory (ca init)")
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "write the challenge to `FILE`")
	cmd.Flags().DurationVar(&o.TTL, "ttl", attestca.DefaultChallengeTTL, "how long the challenge can be answered, a `DURATION` such as 10m")
	o.Trust.AddFlags(cmd)
	cmd.MarkFlagRequired("ca")
	cmd.MarkFlagRequired("output")
	return cmd
}

// Exec writes the challenge.
func (o *caChallengeOptions) Exec(w io.Writer, reqFile string) error {
	trust, err := o.Trust.Trust()
	if err != nil {
		return err
	}
	ca, q, err := openCAWith(o.CA, reqFile, attestca.ReadRequest)
	if err != nil {
		return err
	}
	ca.ChallengeTTL = o.TTL
	c, err := ca.Challenge(q, trust)
	if err != nil {
		return err
	}
	if err := writeJSONFile(o.Out, c); err != nil {
		return err
	}
	fmt.Fprintf(w, "challenge %s for %s, answer before %s\n", c.ID, o.Out, c.Expires.Format(time.RFC3339))
	return nil
}

func writeJSONFile(path string, v any) error {
	b, err := jsonIndent(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

type caIssueOptions struct {
	CA       string
	Out      string
	Validity time.Duration
}

func newCAIssueCmd() *cobra.Command {
	o := &caIssueOptions{}
	cmd := &cobra.Command{
		Use:     "issue --ca DIR -o AK.pem RESPONSE",
		Short:   "Check a challenge response and issue the AK certificate",
		Example: `  attest-build ca issue --ca /srv/attest-ca -o ak.pem resp.json`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return o.Exec(cmd.OutOrStdout(), args[0]) },
	}
	cmd.Flags().StringVar(&o.CA, "ca", "", "the CA `DIR`ectory")
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "write the AK certificate (PEM, followed by the CA certificate) to `FILE`")
	cmd.Flags().DurationVar(&o.Validity, "validity", attestca.DefaultValidity, "how long the AK certificate is valid, a `DURATION` such as 2160h")
	cmd.MarkFlagRequired("ca")
	cmd.MarkFlagRequired("output")
	return cmd
}

// Exec issues the certificate.
func (o *caIssueOptions) Exec(w io.Writer, respFile string) error {
	ca, s, err := openCAWith(o.CA, respFile, attestca.ReadResponse)
	if err != nil {
		return err
	}
	ca.Validity = o.Validity
	der, err := ca.Issue(s)
	if err != nil {
		return err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate().Raw})...)
	if err := atomicfile.Write(o.Out, chain, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "issued %s\n", o.Out)
	return nil
}

type caRevokeOptions struct{ CA string }

func newCARevokeCmd() *cobra.Command {
	o := &caRevokeOptions{}
	cmd := &cobra.Command{
		Use:     "revoke --ca DIR SERIAL",
		Short:   "Revoke an AK certificate (by hex serial) and rewrite the CA's crl.pem",
		Example: `  attest-build ca revoke --ca /srv/attest-ca 3f2a...`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			serial, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(args[0]), "0x"), 16)
			if !ok || serial.Sign() <= 0 {
				return usagef("serial %q: want a positive hex number", args[0])
			}
			ca, err := attestca.Open(o.CA)
			if err != nil {
				return inputError(err)
			}
			crl, err := ca.Revoke(serial)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s; %s/%s lists %d certificate(s): publish it\n", serial.Text(16), o.CA, attestca.CRLFile, len(crl.RevokedCertificateEntries))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.CA, "ca", "", "the CA `DIR`ectory")
	cmd.MarkFlagRequired("ca")
	return cmd
}

type caServeOptions struct {
	CA     string
	Listen string
	Hosts  []string
	TTL    time.Duration
	Trust  ekTrustOptions
	// ready, when set, receives the listening address (tests).
	ready chan<- string
}

func newCAServeCmd() *cobra.Command {
	o := &caServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --ca DIR --ek-roots PATH --listen ADDR",
		Short: "Serve enrollment over HTTPS (challenge and issue), until interrupted",
		Long: `serve runs the enrollment protocol over HTTPS: POST /v1/challenge takes an
enrollment request and answers with a challenge, POST /v1/issue takes the
answer and returns the AK certificate. TLS 1.3 with a server certificate the
CA issues itself for --host: runners trust the CA certificate (tpm enroll
--ca-cert). Challenges are one-shot; bodies are bounded; every request and
every issued certificate is a line on stderr and in the CA's audit.log.`,
		Example: `  attest-build ca serve --ca /srv/attest-ca --ek-roots /srv/ek-roots --listen 0.0.0.0:8443 --host ca.example.org`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd.Context(), cmd.ErrOrStderr()) },
	}
	cmd.Flags().StringVar(&o.CA, "ca", "", "the CA `DIR`ectory")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8443", "listen on `ADDR`")
	cmd.Flags().StringArrayVar(&o.Hosts, "host", nil, "a `NAME` or IP address runners use to reach the service, for its TLS certificate (default: the listen address's host); repeatable")
	cmd.Flags().DurationVar(&o.TTL, "ttl", attestca.DefaultChallengeTTL, "how long a challenge can be answered, a `DURATION`")
	o.Trust.AddFlags(cmd)
	cmd.MarkFlagRequired("ca")
	return cmd
}

// Exec serves until the context ends or SIGINT/SIGTERM.
func (o *caServeOptions) Exec(ctx context.Context, log io.Writer) error {
	trust, err := o.Trust.Trust()
	if err != nil {
		return err
	}
	ca, err := attestca.Open(o.CA)
	if err != nil {
		return inputError(err)
	}
	ca.ChallengeTTL = o.TTL
	hosts := o.Hosts
	if len(hosts) == 0 {
		h, _, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return usagef("--listen %q: %v", o.Listen, err)
		}
		hosts = []string{h}
	}
	cfg, err := ca.ServerTLS(hosts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	srv := attestca.NewServer(attestca.Handler(ca, trust, log), cfg)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	fmt.Fprintf(log, "attest-build ca: serving enrollment on https://%s (hosts %s)\n", ln.Addr(), strings.Join(hosts, ", "))
	if o.ready != nil {
		o.ready <- ln.Addr().String()
	}
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// openCAWith opens the CA in dir and reads one enrollment message from
// file with read.
func openCAWith[T any](dir, file string, read func(io.Reader) (*T, error)) (*attestca.CA, *T, error) {
	ca, err := attestca.Open(dir)
	if err != nil {
		return nil, nil, inputError(err)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, inputError(err)
	}
	defer f.Close()
	m, err := read(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return ca, m, nil
}
