package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/internal/buildinfo"
)

// newVersionCommand prints which attest-build this is; `attest-build
// --version` prints the same line.
func newVersionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [--format text|json]",
		Short: "Print attest-build's version, VCS revision and Go version",
		Long: `version prints the module version of this attest-build (a release tag, a
pseudo-version, or "(devel)" for a build from a work tree), the VCS revision
it was built from (with ", modified" when the work tree had uncommitted
changes) and the Go toolchain that built it, as the Go linker recorded them.
verify --format json carries the same fields as "tool".`,
		Example: `  attest-build version
  attest-build --version
  attest-build version --format json | jq -r .revision`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildinfo.Read()
			switch format {
			case "text":
				fmt.Fprintf(cmd.OutOrStdout(), "attest-build %s\n", info)
				return nil
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return usagef("--format %q: want text or json", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output `FORMAT`: text or json")
	return cmd
}

// addVersion gives root --version (and -v is left free) and the version command.
func addVersion(root *cobra.Command) {
	root.Version = buildinfo.Read().String()
	root.SetVersionTemplate("attest-build {{.Version}}\n")
	root.AddCommand(newVersionCommand())
}
