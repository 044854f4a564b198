package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/tpm"
)

// buildOptions are the root command's flags: running and attesting a build.
type buildOptions struct {
	artifacts []string
	output    string
	key       string
	tpm       tpmOptions
	ak        akOptions
	imaLog    string
	bootLog   string
	pcrs      string
	builderID string
	bundle    bool
	detachLog bool
	akCert    string
	tpmKey    tpmKeyOptions
	leftovers string
	// baseline and baselineDir: the IMA baseline the attestation continues.
	baseline    string
	baselineDir string
}

// AddFlags registers the build flags on cmd.
func (o *buildOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringArrayVarP(&o.artifacts, "artifact", "a", nil, "an artifact to attest: a path or glob `PATTERN` (*, ?, [...], {a,b}, \\ escapes; ** as a whole element matches any number of directories; docs/policy.md#patterns), relative to the working directory and inside it (symbolic links resolved); repeatable (default: the regular files the build created or modified)")
	fs.StringVarP(&o.output, "output", "o", "", "write the attestation to `FILE` (default: ARTIFACT.intoto.jsonl beside a single artifact, else attestation.intoto.jsonl)")
	fs.StringVarP(&o.key, "key", "k", "", "the signing key `REF`: \"tpm\" for the TPM-resident key (created on first use; see --tpm-key-auth), a PEM private key file, plain or encrypted (password in "+provenance.KeyPasswordEnv+"), or its PEM text (default $"+provenance.KeyEnv+"; the build sees neither variable)")
	fs.StringVar(&o.akCert, "ak-cert", "", "the AK's certificate `FILE` (PEM: the AK certificate, then intermediates), from enrollment (attest-build tpm enroll), carried in the attestation (default $"+akCertEnv+"); \"cloud\": quote with the AK the cloud provisioned (GCE, Azure) and carry its certificate from NV")
	o.tpmKey.AddFlags(cmd)
	o.tpm.AddFlags(cmd)
	o.ak.AddFlags(cmd)
	fs.StringVar(&o.imaLog, "ima-log", "", "the IMA measurement log `PATH`, binary form (default "+provenance.DefaultIMALog+", not read with --tpm sim; when that is missing, ima.present=false is recorded); a PATH given that cannot be read fails before the build")
	fs.StringVar(&o.bootLog, "boot-log", "", "the firmware event log `PATH` (TCG binary form; default "+provenance.DefaultBootLog+", not read with --tpm sim); carried when it replays to the end quote's PCRs 0-9, else recorded as bootLog.present=false with the reason")
	fs.StringVar(&o.pcrs, "pcrs", tpm.DefaultPCRSelection, "the PCR `SELECTION` to quote, e.g. sha256:0-10+sha1:10; must include PCR 10")
	fs.StringVar(&o.leftovers, "leftovers", "end", "what to do about processes the build leaves running when its command exits, `POLICY`: end (end and report them, then attest) or refuse (end them and write no attestation); they never outlive attest-build")
	fs.StringVar(&o.builderID, "builder-id", "", "the SLSA builder.id, a `URI`; the TPM mode is appended as its fragment (default: one id per TPM mode)")
	fs.BoolVar(&o.bundle, "bundle", false, "also write each statement as a Sigstore bundle v0.3 (public-key verification material, no transparency log entry): OUTPUT-BASE.tpm-ima"+provenance.BundleSuffix+" and OUTPUT-BASE.slsa"+provenance.BundleSuffix+", OUTPUT-BASE being the output without .intoto.jsonl")
	fs.StringVar(&o.baseline, "baseline", "", "continue the IMA baseline `FILE` (attest-build baseline): carry only the log entries after it and name it; the verifier needs it (verify --baseline)")
	fs.StringVar(&o.baselineDir, "baseline-dir", "", "keep this boot's IMA baseline in `DIR` (made by the first build after boot, continued by later ones; the verifier needs it: verify --baseline DIR)")
	cmd.MarkFlagsMutuallyExclusive("baseline", "baseline-dir")
	fs.BoolVar(&o.detachLog, "detach-log", false, "write the carried IMA log as its own file, OUTPUT-BASE"+provenance.DetachedLogSuffix+" (the uncompressed log, referenced by the predicate's ima.log.sha256), not inside the TPM/IMA statement")
}

// attachBuild makes root run a build: attest-build [flags] -- COMMAND [ARG...].
func attachBuild(root *cobra.Command) {
	o := &buildOptions{}
	o.AddFlags(root)
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("no build command: attest-build [flags] -- COMMAND [ARG...] (see --help)")
		}
		if cmd.ArgsLenAtDash() != 0 {
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				return usagef("unknown command %q: did you mean %q? (a build command goes after --: attest-build [flags] -- COMMAND [ARG...])", args[0], s[0])
			}
			return usagef("unknown command %q: put the build command after -- (attest-build [flags] -- COMMAND [ARG...])", args[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, args []string) error { return o.Exec(cmd, args) }
}

// Exec runs the build and writes its attestation.
func (o *buildOptions) Exec(cmd *cobra.Command, argv []string) error {
	sel, err := tpm.ParsePCRSelection(o.pcrs)
	if err == nil {
		err = provenance.CheckPCRSelection(sel)
	}
	if err != nil {
		return usagef("--pcrs: %w", err)
	}
	if _, err := provenance.BuilderID("device", o.builderID); err != nil {
		return &usageError{err: fmt.Errorf("--builder-id: %w", err)}
	}
	if err := provenance.CheckArtifactPatterns(o.artifacts); err != nil {
		return usagef("-a/--artifact: %w", err)
	}
	leftovers, err := provenance.ParseLeftoverPolicy(o.leftovers)
	if err != nil {
		return usagef("--leftovers: %w", err)
	}
	var base *provenance.BaselineRef
	if o.baseline != "" {
		if base, err = provenance.LoadBaseline(o.baseline); err != nil {
			return inputError(err)
		}
	}
	signer, opener, release, err := o.open(cmd, sel)
	if err != nil {
		return err
	}
	defer release()
	res, err := provenance.Attest(cmd.Context(), provenance.Options{
		Command: provenance.Command{
			Argv:  argv,
			Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(),
			Leftovers: leftovers,
		},
		Artifacts:   o.artifacts,
		Output:      o.output,
		Signer:      signer,
		TPM:         opener,
		IMALog:      o.imaLog,
		BootLog:     o.bootLog,
		BuilderID:   o.builderID,
		Progress:    terminalOrNil(cmd.ErrOrStderr()),
		Bundle:      o.bundle,
		DetachLog:   o.detachLog,
		Baseline:    base,
		BaselineDir: o.baselineDir,
	})
	if errors.Is(err, provenance.ErrUnusablePath) {
		return &usageError{err: err}
	}
	var be *provenance.BuildError
	if errors.As(err, &be) {
		return &exitError{code: be.ExitStatus, err: err}
	}
	var ie *provenance.InterruptedError
	if errors.As(err, &ie) {
		if s, ok := ie.Signal.(syscall.Signal); ok {
			return &exitError{code: 128 + int(s), err: err}
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: wrote %s (%d subject(s), TPM %s, IMA %s)\n",
		res.Output, len(res.Subjects), res.Predicate.TPM.Mode, imaSummary(res))
	for _, f := range append(res.Bundles, res.DetachedLog) {
		if f != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: wrote %s\n", f)
		}
	}
	if res.Baseline != nil {
		verb := "continues"
		if res.BaselineMade {
			verb = "made and continues"
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: the attestation %s the IMA baseline %s (%d entries); verify with --baseline\n", verb, res.Baseline.Path, res.Baseline.Entries)
	}
	return nil
}

// open loads the signing key and opens the TPM as the flags say (the
// build's and the baseline's); release closes what open opened.
func (o *buildOptions) open(cmd *cobra.Command, sel tpm.PCRSelection) (*provenance.Signer, provenance.TPMOpener, func(), error) {
	nop := func() {}
	akOpts, err := o.ak.Options()
	if err != nil {
		return nil, nil, nop, err
	}
	if o.imaLog != "" {
		// Only the default log may be absent (a kernel without IMA).
		if err := provenance.CheckIMALogReadable(o.imaLog); err != nil {
			return nil, nil, nop, &usageError{err: err}
		}
	}
	keyRef := o.key
	if keyRef == "" {
		keyRef = os.Getenv(provenance.KeyEnv)
	}
	if keyRef == "" {
		return nil, nil, nop, usagef("no signing key: pass -k/--key FILE or set %s (make one with: attest-build key generate --out PREFIX)", provenance.KeyEnv)
	}
	cfg := provenance.TPMConfig{Ref: o.tpm.Ref, PCRs: sel, AK: akOpts}
	akCert := o.akCert
	if akCert == "" {
		akCert = os.Getenv(akCertEnv)
	}
	if akCert == akCertCloud {
		cfg.AK.Cloud = true
	} else if cfg.AKCertificates, err = readAKCert(akCert); err != nil {
		return nil, nil, nop, err
	}
	var signer *provenance.Signer
	if keyRef != provenance.KeyRefTPM {
		var password []byte
		if pw, ok := os.LookupEnv(provenance.KeyPasswordEnv); ok {
			password = []byte(pw)
		}
		signer, err = provenance.LoadSigner(keyRef, password)
		if errors.Is(err, provenance.ErrUnsupportedKeyRef) {
			return nil, nil, nop, &usageError{err: err}
		}
		if err != nil {
			return nil, nil, nop, inputError(err) // 2 when the key file cannot be read
		}
	} else if cfg.SigningKey, err = o.tpmKey.Key(true); err != nil {
		return nil, nil, nop, err
	}
	// Ctrl-C ends a wait for the TPM at once; the build itself gets the
	// signal (Attest forwards it), so its context is not this one.
	tpmCtx, stop := interruptContext(cmd.Context())
	cfg.Context = tpmCtx
	opener, release, err := provenance.OpenTPM(cfg)
	if err != nil {
		stop()
		return nil, nil, nop, err
	}
	if signer == nil {
		if signer, err = provenance.NewTPMSigner(opener); err != nil {
			release()
			stop()
			return nil, nil, nop, err
		}
	}
	return signer, opener, func() { release(); stop() }, nil
}

func imaSummary(res *provenance.Result) string {
	ima := res.Predicate.IMA
	if !ima.Present {
		return "absent"
	}
	return fmt.Sprintf("window [%d, %d) of %d entries", ima.Window.Start, ima.Window.End, ima.Log.Entries)
}

// terminalOrNil returns w when it is a terminal, for progress notes a
// person watches; nil for a file, a pipe or a buffer.
func terminalOrNil(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}
