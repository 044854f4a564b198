package evidence

import (
	"bytes"
	"fmt"
)

// MatchPrefix returns the number of leading entries of r whose replay of
// PCR pcr in bank gives want (a PCR value from a quote). The IMA log and
// PCR 10 are not updated atomically, so a quote may lag or lead the log it
// is sent with; the matcher finds the prefix the quote covers.
//
// Ambiguity rule: entries of other PCRs leave the value unchanged, so
// several prefixes can reach want. MatchPrefix returns the longest of them:
// the first prefix that reaches want, extended over the entries of other
// PCRs that follow it, up to (not including) the next entry of pcr, or the
// end of the log. A want equal to the initial value matches before the
// first entry of pcr.
//
// Reading stops once the answer is known, so bytes after it are not
// checked. A malformed entry before that point returns its *ParseError; a
// template hash mismatch returns its *TemplateHashError (a log whose logged
// hashes disagree with its data is refused, not matched). When no prefix
// matches, the error is a *NoPrefixMatchError (errors.Is ErrNoPrefixMatch).
func MatchPrefix(r *Reader, bank Bank, pcr uint32, want []byte, opts ...ReplayOption) (int, error) {
	n, err := MatchPrefixes(r, bank, pcr, [][]byte{want}, opts...)
	if err != nil {
		return 0, err
	}
	return n[0], nil
}

// MatchPrefixes is MatchPrefix for several values in one pass over the log
// (for instance the PCR values of the quotes before and after a build): it
// returns one count per value, in the order given, each by MatchPrefix's
// rule. If some values are not reached, it returns the counts with -1 for
// those, and a *NoPrefixMatchError naming them.
func MatchPrefixes(r *Reader, bank Bank, pcr uint32, wants [][]byte, opts ...ReplayOption) ([]int, error) {
	rp, err := newReplayerChecked(bank, pcr, opts)
	if err != nil {
		return nil, err
	}
	for i, w := range wants {
		if len(w) != bank.Size() {
			return nil, fmt.Errorf("%w: PCR value %d has %d bytes, bank %s has %d", ErrDigestSize, i, len(w), bank, bank.Size())
		}
	}
	counts := make([]int, len(wants))
	const (
		searching = iota
		extending // found; growing over other PCRs' entries
		settled
	)
	state := make([]int, len(wants))
	open := len(wants)
	check := func(n int) {
		for i, w := range wants {
			if state[i] == searching && bytes.Equal(rp.value, w) {
				state[i], counts[i] = extending, n
			}
		}
	}
	check(0)
	entries := 0
	var herr error
	err = scan(r, rp, func(e *Entry, hashErr error) bool {
		entries++
		if hashErr != nil {
			herr = hashErr
			return false
		}
		for i := range wants {
			if state[i] != extending {
				continue
			}
			if e.PCR != pcr {
				counts[i] = entries
			} else {
				state[i] = settled
				open--
			}
		}
		if e.PCR == pcr {
			check(entries)
		}
		return open > 0
	}, nil)
	if err != nil {
		return nil, err
	}
	if herr != nil {
		return nil, herr
	}
	var missing [][]byte
	for i, s := range state {
		if s == searching {
			counts[i] = -1
			missing = append(missing, bytes.Clone(wants[i]))
		}
	}
	if missing != nil {
		return counts, &NoPrefixMatchError{Bank: bank, PCR: pcr, Values: missing, Entries: entries, Final: rp.Value()}
	}
	return counts, nil
}
