package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/attest-build/attest-build/provenance/inspect"
)

// inspectOptions are the flags of 'attest-build inspect'.
type inspectOptions struct {
	format     string
	maxEntries int
}

func (o *inspectOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
	fs.IntVar(&o.maxEntries, "max-entries", 50, "list at most `N` IMA window entries in text output (0: all)")
}

func newInspectCmd() *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect FILE.intoto.jsonl",
		Short: "Show what an attestation holds, without verifying anything",
		Long: `inspect prints a summary of an attestation file: for each envelope its
subjects and predicate; for the TPM/IMA predicate the TPM mode, the attestation
key's fingerprint, both quotes with their clock, resetCount and restartCount,
and the IMA entries measured during the build with their paths and digests;
for SLSA provenance the builder, the source and the invocation.

inspect VERIFIES NOTHING. It shows what the file says, signed or not, true or
not. Use 'attest-build verify' to decide whether to trust an artifact.

Exit status: 0 when the file was read, 1 when it is malformed, 2 for usage
errors or unreadable input.`,
		Example: `  # Read the attestation beside an artifact
  attest-build inspect dist/hello.tar.gz.intoto.jsonl

  # Every IMA window entry, as JSON for jq
  attest-build inspect --format json hello.intoto.jsonl | jq '.envelopes[0].tpmIma.ima.window'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeAttestationFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.Exec(cmd, args[0])
		},
	}
	o.AddFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Exec reads the file and prints its summary.
func (o *inspectOptions) Exec(cmd *cobra.Command, path string) error {
	if o.format != "text" && o.format != "json" {
		return usagef("--format %q: want text or json", o.format)
	}
	if o.maxEntries < 0 {
		return usagef("--max-entries %d: want 0 (all) or more", o.maxEntries)
	}
	f, err := os.Open(path)
	if err != nil {
		return inputError(fmt.Errorf("inspecting: %w", err))
	}
	defer f.Close()
	s, err := inspect.Inspect(f, inspect.InspectOptions{})
	if err != nil {
		return inputError(fmt.Errorf("inspecting %s: %w", path, err))
	}
	if o.format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return s.WriteText(cmd.OutOrStdout(), inspect.TextOptions{MaxWindowEntries: o.maxEntries})
}

// completeAttestationFiles completes attestation files for shell completion.
func completeAttestationFiles(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return []string{"intoto.jsonl", "jsonl"}, cobra.ShellCompDirectiveFilterFileExt
}
