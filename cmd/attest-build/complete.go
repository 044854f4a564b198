package main

import (
	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/tpm"
)

// enumValues are the values of the flags that take one of a fixed set, for
// shell completion. A value ending in ':' is a prefix the user completes.
func enumValues() map[string][]string {
	banks := make([]string, 0, 4)
	for _, b := range evidence.Banks() {
		banks = append(banks, b.String())
	}
	return map[string][]string{
		"tpm":       {tpm.RefAuto, "/dev/tpmrm0", "/dev/tpm0", tpm.RefSwtpmPrefix, tpm.RefSim},
		"format":    {"text", "json"},
		"bank":      banks,
		"scope":     {string(policy.ScopeBoot), string(policy.ScopeWindow)},
		"algorithm": {string(provenance.KeyECDSAP256), string(provenance.KeyECDSAP384), string(provenance.KeyEd25519), string(provenance.KeyRSA3072)},
		"ak-alg":    {string(tpm.AKECCP256), string(tpm.AKRSA2048)},
	}
}

// completeEnums registers completion of enumValues' values on every command
// of the tree that has such a flag (after `--tpm swtpm:` the shell adds no
// space, so the socket path follows).
func completeEnums(root *cobra.Command) {
	values := enumValues()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		local := c.LocalNonPersistentFlags() // a new FlagSet each call
		for name, vals := range values {
			if local.Lookup(name) == nil {
				continue
			}
			directive := cobra.ShellCompDirectiveNoFileComp
			if name == "tpm" {
				directive |= cobra.ShellCompDirectiveNoSpace
			}
			_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(vals, directive)) // an error: registered by the command itself
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
