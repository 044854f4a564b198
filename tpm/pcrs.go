package tpm

import (
	"crypto"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// NumPCRs is the number of PCRs per bank this package selects from (0-23,
// the PC Client platform's count).
const NumPCRs = 24

// DefaultPCRSelection is the selection used when none is given: sha256
// PCRs 0-10 (firmware, boot loader, kernel and IMA's PCR 10).
const DefaultPCRSelection = "sha256:0-10"

// PCRBank is one bank's part of a PCR selection: a hash algorithm name and
// the PCR indices selected in it, ascending and without repeats.
type PCRBank struct {
	Bank    string // "sha1", "sha256", "sha384" or "sha512"
	Indices []int
}

// PCRSelection selects PCRs in one or more banks, in order. Quotes list
// PCR values bank by bank in this order, indices ascending.
type PCRSelection []PCRBank

// PCRValue is one PCR's value in one bank.
type PCRValue struct {
	Bank  string // "sha1", "sha256", "sha384" or "sha512"
	Index int
	Value []byte
}

// String returns the PCR value as "bank:index=hex".
func (v PCRValue) String() string { return fmt.Sprintf("%s:%d=%x", v.Bank, v.Index, v.Value) }

var bankAlgs = []struct {
	name string
	alg  tpm2.TPMAlgID
	hash crypto.Hash
}{
	{"sha1", tpm2.TPMAlgSHA1, crypto.SHA1},
	{"sha256", tpm2.TPMAlgSHA256, crypto.SHA256},
	{"sha384", tpm2.TPMAlgSHA384, crypto.SHA384},
	{"sha512", tpm2.TPMAlgSHA512, crypto.SHA512},
}

func bankAlg(name string) (tpm2.TPMAlgID, crypto.Hash, bool) {
	for _, b := range bankAlgs {
		if b.name == name {
			return b.alg, b.hash, true
		}
	}
	return 0, 0, false
}

func algBank(alg tpm2.TPMAlgID) (string, crypto.Hash, bool) {
	for _, b := range bankAlgs {
		if b.alg == alg {
			return b.name, b.hash, true
		}
	}
	return "", 0, false
}

func bankNames() string {
	var s []string
	for _, b := range bankAlgs {
		s = append(s, b.name)
	}
	return strings.Join(s, ", ")
}

// ParsePCRSelection parses a selection such as "sha256:0-10+sha1:10" or
// "sha256:0,2,4-7": banks joined by '+', each "bank:list" where list is
// comma-separated indices and ranges. Banks are kept in the order given; a
// bank given twice or an index repeated is an error.
func ParsePCRSelection(s string) (PCRSelection, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("PCR selection is empty (example: %s)", DefaultPCRSelection)
	}
	var sel PCRSelection
	for _, part := range strings.Split(s, "+") {
		name, list, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("PCR selection %q: %q has no ':' (want BANK:INDICES, such as sha256:0-10)", s, part)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if _, _, ok := bankAlg(name); !ok {
			return nil, fmt.Errorf("PCR selection %q: unknown bank %q (known: %s)", s, name, bankNames())
		}
		if slices.ContainsFunc(sel, func(b PCRBank) bool { return b.Bank == name }) {
			return nil, fmt.Errorf("PCR selection %q: bank %s given twice", s, name)
		}
		var idx []int
		for _, item := range strings.Split(list, ",") {
			lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
			a, err := parsePCRIndex(lo)
			if err != nil {
				return nil, fmt.Errorf("PCR selection %q: bank %s: %w", s, name, err)
			}
			b := a
			if isRange {
				if b, err = parsePCRIndex(hi); err != nil {
					return nil, fmt.Errorf("PCR selection %q: bank %s: %w", s, name, err)
				}
				if b < a {
					return nil, fmt.Errorf("PCR selection %q: bank %s: range %d-%d is backwards", s, name, a, b)
				}
			}
			for i := a; i <= b; i++ {
				if slices.Contains(idx, i) {
					return nil, fmt.Errorf("PCR selection %q: bank %s: PCR %d given twice", s, name, i)
				}
				idx = append(idx, i)
			}
		}
		slices.Sort(idx)
		sel = append(sel, PCRBank{Bank: name, Indices: idx})
	}
	return sel, nil
}

func parsePCRIndex(s string) (int, error) {
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || i < 0 || i >= NumPCRs {
		return 0, fmt.Errorf("PCR index %q is not a number in [0, %d]", s, NumPCRs-1)
	}
	return i, nil
}

// String formats the selection in the form ParsePCRSelection reads, with
// runs of indices as ranges: "sha256:0-10+sha1:10".
func (s PCRSelection) String() string {
	var parts []string
	for _, b := range s {
		var items []string
		for i := 0; i < len(b.Indices); {
			j := i
			for j+1 < len(b.Indices) && b.Indices[j+1] == b.Indices[j]+1 {
				j++
			}
			if j > i {
				items = append(items, fmt.Sprintf("%d-%d", b.Indices[i], b.Indices[j]))
			} else {
				items = append(items, strconv.Itoa(b.Indices[i]))
			}
			i = j + 1
		}
		parts = append(parts, b.Bank+":"+strings.Join(items, ","))
	}
	return strings.Join(parts, "+")
}

// validate checks the selection names known banks and indices in range,
// ascending, without repeats.
func (s PCRSelection) validate() error {
	if len(s) == 0 {
		return fmt.Errorf("PCR selection is empty")
	}
	for bi, b := range s {
		if _, _, ok := bankAlg(b.Bank); !ok {
			return fmt.Errorf("PCR selection bank %d: unknown bank %q (known: %s)", bi, b.Bank, bankNames())
		}
		if len(b.Indices) == 0 {
			return fmt.Errorf("PCR selection bank %s: no PCRs", b.Bank)
		}
		for k, i := range b.Indices {
			if i < 0 || i >= NumPCRs {
				return fmt.Errorf("PCR selection bank %s: index %d out of range [0, %d]", b.Bank, i, NumPCRs-1)
			}
			if k > 0 && i <= b.Indices[k-1] {
				return fmt.Errorf("PCR selection bank %s: indices not ascending and unique at %d", b.Bank, i)
			}
		}
		for _, o := range s[:bi] {
			if o.Bank == b.Bank {
				return fmt.Errorf("PCR selection: bank %s given twice", b.Bank)
			}
		}
	}
	return nil
}

// tpml converts a validated selection into a TPML_PCR_SELECTION.
func (s PCRSelection) tpml() tpm2.TPMLPCRSelection {
	var l tpm2.TPMLPCRSelection
	for _, b := range s {
		alg, _, _ := bankAlg(b.Bank)
		bits := make([]byte, 3)
		for _, i := range b.Indices {
			bits[i/8] |= 1 << (i % 8)
		}
		l.PCRSelections = append(l.PCRSelections, tpm2.TPMSPCRSelection{Hash: alg, PCRSelect: bits})
	}
	return l
}

// pcrSlot is one selected PCR in a decoded selection, in order.
type pcrSlot struct {
	bank  string
	hash  crypto.Hash
	index int
}

// Contains reports whether the selection selects PCR index in bank.
func (s PCRSelection) Contains(bank string, index int) bool {
	for _, b := range s {
		if b.Bank == bank && slices.Contains(b.Indices, index) {
			return true
		}
	}
	return false
}
