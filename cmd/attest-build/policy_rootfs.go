package main

import (
	"crypto"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/provenance"
	"github.com/attest-build/attest-build/provenance/policy"
	"github.com/attest-build/attest-build/rootfs"
	"github.com/attest-build/attest-build/runtimepolicy"
)

// rootfsOptions are the flags of policy init --from-rootfs.
type rootfsOptions struct {
	FromRootfs string
	Skip       []string
	Excludes   []string
	AllOwners  bool
	Algo       string
	Workers    int
}

func (o *rootfsOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.FromRootfs, "from-rootfs", "", "a runner image to hash: a `DIR` or a tar archive (plain, gzip or zstd)")
	cmd.Flags().StringSliceVar(&o.Skip, "skip-path", rootfs.DefaultSkip(), "image `PATH`s whose subtrees are not hashed (repeatable or comma-separated; --skip-path= for none)")
	cmd.Flags().StringArrayVar(&o.Excludes, "exclude", nil, "a `REGEX` (RE2, matched at the start of image paths as Keylime does): matching files are not hashed, and the regex is written to the runtime policy's excludes (repeatable)")
	cmd.Flags().BoolVar(&o.AllOwners, "all-owners", false, "hash files of every owner (default: only files owned by root, as Keylime's tool does)")
	cmd.Flags().StringVar(&o.Algo, "algo", "sha256", "file digest `ALGORITHM`: sha256, sha384, sha512 or sha1 (the kernel's ima_hash)")
	cmd.Flags().IntVar(&o.Workers, "workers", 0, "`N` hashing goroutines (default: one per core)")
}

// Exec hashes the image into a runtime policy beside output and writes the
// policy that names it to output.
func (o *rootfsOptions) Exec(cmd *cobra.Command, output string) error {
	if output == "" {
		return usagef("--from-rootfs: give -o FILE: the runtime policy is written beside it")
	}
	algos := map[string]crypto.Hash{"sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}
	h, ok := algos[o.Algo]
	if !ok {
		return usagef("--algo %q: want sha256, sha384, sha512 or sha1", o.Algo)
	}
	skip := []string{}
	for _, s := range o.Skip {
		if s != "" {
			skip = append(skip, s)
		}
	}
	jsonPath := policy.RuntimePolicyPath(output)
	var st rootfs.Stats
	err := provenance.WriteStreamAtomic(jsonPath, 0o644, func(w io.Writer) error {
		var err error
		st, err = runtimepolicy.WriteImage(cmd.Context(), w, o.FromRootfs, rootfs.Options{Hash: h, Skip: skip, AllOwners: o.AllOwners, Workers: o.Workers}, o.Excludes)
		return err
	})
	if err != nil {
		return inputError(fmt.Errorf("--from-rootfs %s: %w", o.FromRootfs, err))
	}
	doc, err := policy.ImagePolicy(o.FromRootfs, filepath.Base(jsonPath), st, time.Now())
	if err != nil {
		return err
	}
	if err := provenance.WriteFileAtomic(output, doc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attest-build: hashed %d files (%d bytes) of %s into %s (Keylime runtime policy format), named by %s\n", st.Files, st.Bytes, o.FromRootfs, jsonPath, output)
	return nil
}
