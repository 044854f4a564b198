package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/attest-build/attest-build/evidence"
	"github.com/attest-build/attest-build/tpm"
)

// imaLogOptions are the flags that say how to read a measurement log.
type imaLogOptions struct {
	Log       string
	BigEndian bool
	PerBank   string
}

func (o *imaLogOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Log, "log", "", "the IMA measurement log `FILE`: binary, ascii, or either gzip- or zstd-compressed (- for stdin)")
	cmd.Flags().BoolVar(&o.BigEndian, "big-endian", false, "the binary log is big-endian (a big-endian kernel without ima_canonical_fmt)")
	cmd.Flags().StringVar(&o.PerBank, "per-bank", "", "the log is a per-bank log (binary_runtime_measurements_BANK) of this `BANK`; detected when unset")
	_ = cmd.MarkFlagRequired("log")
}

// open returns a Reader of the log and a function that closes its file.
func (o *imaLogOptions) open(stdin io.Reader) (*evidence.Reader, func(), error) {
	var opts []evidence.Option
	if o.BigEndian {
		opts = append(opts, evidence.WithBigEndian())
	}
	if o.PerBank != "" {
		b, err := evidence.ParseBank(o.PerBank)
		if err != nil {
			return nil, nil, usagef("--per-bank: %v", err)
		}
		opts = append(opts, evidence.WithPerBankLog(b))
	}
	var in io.Reader = stdin
	closeFn := func() {}
	if o.Log != "-" {
		f, err := os.Open(o.Log)
		if err != nil {
			return nil, nil, inputError(fmt.Errorf("opening IMA log: %w", err))
		}
		in, closeFn = f, func() { f.Close() }
	}
	r, err := evidence.NewReader(in, opts...)
	if err != nil {
		closeFn()
		return nil, nil, inputError(fmt.Errorf("reading IMA log %s: %w", o.Log, err))
	}
	return r, closeFn, nil
}

func newIMACommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ima",
		Short: "Read, print and replay Linux IMA measurement logs",
		Example: `  # the kernel's log in its ascii form
  attest-build ima show --log /sys/kernel/security/ima/binary_runtime_measurements
  # replay it: PCR 10 of the sha256 bank
  attest-build ima replay --log /sys/kernel/security/ima/binary_runtime_measurements --bank sha256`,
	}
	cmd.AddCommand(newIMAReplayCommand(), newIMAShowCommand())
	return cmd
}

type imaReplayOptions struct {
	imaLogOptions
	Bank   string
	PCR    uint32
	Format string
	Match  string
	Padded bool
}

func (o *imaReplayOptions) AddFlags(cmd *cobra.Command) {
	o.imaLogOptions.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Bank, "bank", "sha256", "PCR `BANK`: sha1, sha256, sha384 or sha512")
	cmd.Flags().Uint32Var(&o.PCR, "pcr", 10, "the `PCR` to replay, 0-23")
	cmd.Flags().StringVar(&o.Format, "format", "text", "output `FORMAT`: text (the PCR value in hex) or json")
	cmd.Flags().StringVar(&o.Match, "match", "", "a PCR value in `HEX`: print how many leading entries replay to it")
	cmd.Flags().BoolVar(&o.Padded, "sha1-padded", false, "replay by the rule of kernels before 5.8 (sha1 template hash zero-padded into every bank)")
}

// imaReplayJSON is the --format json output of ima replay.
type imaReplayJSON struct {
	Bank            string  `json:"bank"`
	PCR             uint32  `json:"pcr"`
	Value           string  `json:"value"`
	Entries         int     `json:"entries"`
	Extended        int     `json:"extended"`
	Violations      int     `json:"violations"`
	Mismatches      int     `json:"template_hash_mismatches"`
	MismatchIndices []int   `json:"mismatch_indices,omitempty"`
	MismatchOffsets []int64 `json:"mismatch_offsets,omitempty"`
	Matched         *int    `json:"matched_entries,omitempty"`
}

func (o *imaReplayOptions) Exec(cmd *cobra.Command) error {
	bank, err := evidence.ParseBank(o.Bank)
	if err != nil {
		return usagef("--bank: %v", err)
	}
	if o.Format != "text" && o.Format != "json" {
		return usagef("--format %q: want text or json", o.Format)
	}
	if o.PCR >= tpm.NumPCRs {
		return usagef("--pcr %d: want a PCR index from 0 to %d", o.PCR, tpm.NumPCRs-1)
	}
	var want []byte
	if o.Match != "" {
		want, err = hex.DecodeString(strings.TrimPrefix(strings.ToLower(o.Match), "0x"))
		if err != nil || len(want) != bank.Size() {
			return usagef("--match: want %d bytes of hex for bank %s", bank.Size(), bank)
		}
	}
	var ropts []evidence.ReplayOption
	if o.Padded {
		ropts = append(ropts, evidence.WithPaddedSHA1Rule())
	}
	r, closeLog, err := o.open(cmd.InOrStdin())
	if err != nil {
		return err
	}
	defer closeLog()
	out := cmd.OutOrStdout()

	if want != nil {
		n, err := evidence.MatchPrefix(r, bank, o.PCR, want, ropts...)
		if err != nil {
			return inputError(fmt.Errorf("matching %s PCR %d against %s: %w", bank, o.PCR, o.Log, err))
		}
		if o.Format == "json" {
			return writeJSON(out, imaReplayJSON{Bank: bank.String(), PCR: o.PCR, Value: hex.EncodeToString(want), Matched: &n})
		}
		_, err = fmt.Fprintln(out, n)
		return err
	}

	res, err := evidence.Replay(r, bank, o.PCR, ropts...)
	if err != nil {
		return inputError(fmt.Errorf("replaying %s: %w", o.Log, err))
	}
	if o.Format == "json" {
		j := imaReplayJSON{
			Bank: bank.String(), PCR: o.PCR, Value: hex.EncodeToString(res.Value),
			Entries: res.Entries, Extended: res.Extended, Violations: res.Violations,
			Mismatches: res.Mismatches, MismatchIndices: res.MismatchIndices,
		}
		for _, m := range res.MismatchErrors {
			j.MismatchOffsets = append(j.MismatchOffsets, m.Offset)
		}
		if err := writeJSON(out, j); err != nil {
			return err
		}
	} else if res.Mismatches == 0 {
		_, err = fmt.Fprintln(out, hex.EncodeToString(res.Value))
		return err
	}
	return o.mismatchError(cmd.ErrOrStderr(), res)
}

// maxMismatchLines bounds the template hash mismatches listed on stderr.
const maxMismatchLines = 10

// mismatchError lists the first template hash mismatches on w and returns
// the error (exit status 1) for a replay that has any; nil when none. A log
// whose template data does not hash to its logged template hashes is not
// the log the kernel extended: text output then prints no value.
func (o *imaReplayOptions) mismatchError(w io.Writer, res *evidence.Result) error {
	if res.Mismatches == 0 {
		return nil
	}
	for i, m := range res.MismatchErrors {
		if i == maxMismatchLines {
			break
		}
		fmt.Fprintf(w, "attest-build: %v\n", m)
	}
	if more := res.Mismatches - min(len(res.MismatchErrors), maxMismatchLines); more > 0 {
		fmt.Fprintf(w, "attest-build: ... and %d more template hash mismatches\n", more)
	}
	return fmt.Errorf("replaying %s: %d of %d entries of PCR %d have a template hash that does not match their template data (first: entry %d)",
		o.Log, res.Mismatches, res.Extended, o.PCR, res.MismatchIndices[0])
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newIMAReplayCommand() *cobra.Command {
	o := &imaReplayOptions{}
	cmd := &cobra.Command{
		Use:   "replay --log FILE [--bank BANK] [--pcr 10] [--format text|json] [--match HEX]",
		Short: "Replay a PCR from an IMA log, or find the prefix that reaches a PCR value",
		Long: `Replay computes a PCR (10 by default) of one bank from an IMA measurement log
the way the kernel extends it, checking every entry's template hash against its
template data. With --match it prints instead the number of leading entries
whose replay reaches the given PCR value.

A replayed value proves nothing by itself: compare it with a PCR value from a
verified TPM quote.

Exit status: 0 on success; 1 for a malformed log, when no prefix reaches the
--match value, or when an entry's template hash does not match its template
data (the first 10 such entries listed on stderr with index and byte offset;
text output then prints no value, json output still does, with the counts);
2 for usage errors and a log that cannot be read.`,
		Example: `  # final PCR 10 of the sha256 bank
  attest-build ima replay --log /sys/kernel/security/ima/binary_runtime_measurements --bank sha256

  # counts of entries, violations and template hash mismatches
  attest-build ima replay --log testdata/ima/vm-debian12-swtpm.bin --bank sha1 --format json

  # how many entries a quoted PCR value covers
  attest-build ima replay --log log.bin --bank sha256 --match 4af79a5e...347d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Exec(cmd) },
	}
	o.AddFlags(cmd)
	return cmd
}

func newIMAShowCommand() *cobra.Command {
	o := &imaLogOptions{}
	cmd := &cobra.Command{
		Use:   "show --log FILE",
		Short: "Print an IMA log in the kernel's ascii_runtime_measurements format",
		Long: `Show prints every entry of an IMA log (binary, ascii, gzip or zstd) as the kernel
prints ascii_runtime_measurements: for a real binary log the output equals the
kernel's ascii file byte for byte. Fields of templates unknown to attest-build
(such as ima-cgpath) are printed in hex.

Exit status: 0 on success; 1 for a malformed log; 2 for usage errors and a
log that cannot be read.`,
		Example: `  attest-build ima show --log /sys/kernel/security/ima/binary_runtime_measurements
  attest-build ima show --log testdata/ima/vm-debian12-swtpm.bin | diff - testdata/ima/vm-debian12-swtpm.ascii`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, closeLog, err := o.open(cmd.InOrStdin())
			if err != nil {
				return err
			}
			defer closeLog()
			if _, err := evidence.WriteASCII(cmd.OutOrStdout(), r); err != nil {
				err = fmt.Errorf("showing %s: %w", o.Log, err)
				if pe := (*evidence.ParseError)(nil); errors.As(err, &pe) {
					return inputError(err) // reading the log, not writing stdout
				}
				return err
			}
			return nil
		},
	}
	o.AddFlags(cmd)
	return cmd
}
