package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/provenance/verify"
)

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Make and check trust policies for attest-build verify",
		Example: `  # a starting policy from a known-good attestation, trusting its signer
  attest-build policy init --from app.tar.intoto.jsonl --key release.pub -o policy.yaml
  # check a reviewed policy as verify would
  attest-build policy check policy.yaml`,
	}
	cmd.AddCommand(newPolicyInitCommand(), newPolicyCheckCommand())
	return cmd
}

// policyInitOptions are the flags of attest-build policy init.
type policyInitOptions struct {
	From   string
	IMALog string
	Scope  string
	Output string
	Keys   []string
	Force  bool
	// Baselines are the IMA baselines the attestation continues.
	Baselines []string
	rootfsOptions
}

func (o *policyInitOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.From, "from", "", "a known-good attestation `FILE` (.intoto.jsonl)")
	cmd.Flags().StringVar(&o.IMALog, "ima-log", "", "the detached IMA log `FILE` of a --from attestation made with --detach-log (default: BASE"+provenance.DetachedLogSuffix+" beside it, when it exists)")
	cmd.Flags().StringVar(&o.Scope, "scope", "boot", "IMA `SCOPE` of the rules: boot (the whole log since boot) or window (the build's entries only; trusts the signer for where the window starts)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "write the policy to `FILE` (default: standard output); an existing FILE is kept unless --force")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing -o FILE")
	cmd.Flags().StringArrayVar(&o.Keys, "key", nil, "signer public key `FILE`, PEM (repeatable): the attestation must verify with it; written as a trusted signer")
	cmd.Flags().StringArrayVar(&o.Baselines, "baseline", nil, "an IMA baseline `FILE` or a DIR of them, for an attestation whose log continues one (repeatable); its entries are in the boot scope")
	o.rootfsOptions.AddFlags(cmd)
	cmd.MarkFlagsOneRequired("from", "from-rootfs")
	cmd.MarkFlagsMutuallyExclusive("from", "from-rootfs")
}

func newPolicyInitCommand() *cobra.Command {
	o := &policyInitOptions{}
	cmd := &cobra.Command{
		Use:   "init (--from FILE.intoto.jsonl | --from-rootfs DIR|TAR) [--scope window|boot] [-o FILE]",
		Short: "Write a starting policy from a known-good attestation",
		Long: `init writes a commented starting policy from a known-good attestation: its
signer (with --key), its attestation key, builder id and TPM mode, the PCR
values of its end quote, and every path measured in the IMA scope with its
digests. The attestation's quotes and IMA log are checked first. A policy made
from a simulator or swtpm attestation accepts that mode, and says so.
Review and tighten it before use. An existing -o FILE is never replaced
without --force.

With --from-rootfs, init hashes a runner image's files instead (a directory,
or a tar archive, plain, gzip or zstd) into a Keylime-format runtime policy
beside the policy (-o policy.yaml writes policy.runtime-policy.json), on every
core, with the exclusions of Keylime's policy tool: the subtrees of
--skip-path (default /sys /run /proc /lost+found /dev /media /snap /mnt /var
/tmp), mount points of other file system types, symbolic links and special
files, files not owned by root (unless --all-owners), and --exclude regexes.

Exit status: 0 when the policy was written; 1 when the attestation is
malformed or does not verify; 2 for usage errors and input files that cannot
be read.`,
		Example: `  attest-build policy init --from app.tar.intoto.jsonl --key release.pub -o policy.yaml
  attest-build policy init --from app.tar.intoto.jsonl --scope boot > policy.yaml
  attest-build policy init --from-rootfs /srv/runner-image -o policy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd) },
	}
	o.AddFlags(cmd)
	return cmd
}

func (o *policyInitOptions) Exec(cmd *cobra.Command) error {
	if o.Output != "" && !o.Force {
		// A policy may have been reviewed and tightened by hand: never
		// replace it silently (as key generate never replaces a key).
		if _, err := os.Lstat(o.Output); err == nil {
			return usagef("-o %s: the file exists (a reviewed policy?); pass --force to replace it, or choose another name", o.Output)
		}
	}
	if o.FromRootfs != "" {
		return o.rootfsOptions.Exec(cmd, o.Output)
	}
	scope, err := policy.ParseIMAScope(o.Scope)
	if err != nil {
		return usagef("--scope: %v", err)
	}
	keys, err := readSignerKeys(o.Keys)
	if err != nil {
		return err
	}
	f, err := os.Open(o.From)
	if err != nil {
		return inputError(fmt.Errorf("--from: %w", err))
	}
	defer f.Close()
	opts := verify.PolicyInitOptions{Scope: scope, SignerKeys: keys, Source: filepath.Base(o.From), Baselines: o.Baselines}
	if logPath := detachedLogPath(o.IMALog, o.From); logPath != "" {
		lf, err := os.Open(logPath)
		if err != nil {
			return inputError(fmt.Errorf("--ima-log: %w", err))
		}
		defer lf.Close()
		opts.DetachedLog = lf
	}
	jsonPath := policy.RuntimePolicyPath(o.Output)
	if o.Output != "" {
		// A long allowlist goes to a Keylime runtime policy beside the policy.
		opts.RuntimePolicy = &policy.RuntimePolicyOutput{Name: filepath.Base(jsonPath), Write: func(write func(io.Writer) error) error {
			return provenance.WriteStreamAtomic(jsonPath, 0o644, write)
		}}
	}
	out, err := verify.InitPolicy(cmd.Context(), f, opts)
	if err != nil {
		// exit 2 when the file cannot be read, 1 when the reference
		// attestation is malformed or does not hold
		return inputError(fmt.Errorf("--from %s: %w", o.From, err))
	}
	if o.Output == "" {
		_, err := cmd.OutOrStdout().Write(out)
		return err
	}
	if err := provenance.WriteFileAtomic(o.Output, out, 0o644); err != nil {
		return err
	}
	if n := opts.RuntimePolicy.Paths; n > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: the allowlist has %d paths (more than %d): written to %s as a Keylime runtime policy, which %s names\n", n, policy.MaxInlineAllow, jsonPath, o.Output)
	}
	return nil
}

func newPolicyCheckCommand() *cobra.Command {
	var keyFiles []string
	cmd := &cobra.Command{
		Use:   "check FILE [--key FILE]...",
		Short: "Validate a policy as verify does, naming the line of each problem",
		Long: `check loads a policy file as verify does (key files and Keylime runtime
policies it names included) and makes the verifier verify would make from
it: at least one trusted signer key (the policy's, or --key as verify takes
it), one trusted attestation key and one accepted builder id. It reports
the first problem, with its line where the file has one.

Exit status: 0 when verify would accept the policy; 1 when it would not;
2 for usage errors and a policy or key file that cannot be read.`,
		Example: `  attest-build policy check policy.yaml
  # a policy whose signer verify is given on the command line
  attest-build policy check policy.yaml --key release.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := policy.LoadPolicy(args[0])
			if err != nil {
				return inputError(err)
			}
			keys, err := readSignerKeys(keyFiles)
			if err != nil {
				return err
			}
			// The same checks verify makes before it reads an attestation.
			if _, err := verify.NewVerifier(p, verify.WithSignerKeys(keys...)); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "trusted signer public key `FILE`, PEM (repeatable), as verify --key: the policy is judged with it added to its signers")
	return cmd
}
