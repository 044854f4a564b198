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
	}
	cmd.AddCommand(newPolicyInitCommand(), newPolicyCheckCommand())
	return cmd
}

// policyInitOptions are the flags of attest-build policy init.
type policyInitOptions struct {
	From   string
	Scope  string
	Output string
	Keys   []string
	rootfsOptions
}

func (o *policyInitOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.From, "from", "", "a known-good attestation `FILE` (.intoto.jsonl)")
	cmd.Flags().StringVar(&o.Scope, "scope", "boot", "IMA `SCOPE` of the rules: boot (the whole log since boot) or window (the build's entries only; trusts the signer for where the window starts)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "write the policy to `FILE` (default: standard output)")
	cmd.Flags().StringArrayVar(&o.Keys, "key", nil, "signer public key `FILE`, PEM (repeatable): the attestation must verify with it; written as a trusted signer")
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
Review and tighten it before use.

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
	opts := verify.PolicyInitOptions{Scope: scope, SignerKeys: keys, Source: filepath.Base(o.From)}
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
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Load and validate a policy file, naming the line of each problem",
		Long: `check loads a policy file as verify does (key files and Keylime runtime
policies it names included) and reports the first problem with its line.

Exit status: 0 when the policy is valid; 1 when it is not; 2 for usage
errors and a policy file that cannot be read.`,
		Example: `  attest-build policy check policy.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := policy.LoadPolicy(args[0]); err != nil {
				return inputError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
}
