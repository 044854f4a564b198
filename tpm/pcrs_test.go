package tpm

import (
	"slices"
	"testing"
)

func TestParsePCRSelection(t *testing.T) {
	for _, c := range []struct {
		in, want string
		sel      PCRSelection
	}{
		{"sha256:0-10", "sha256:0-10", PCRSelection{{"sha256", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}},
		{"sha256:0-10+sha1:10", "sha256:0-10+sha1:10", nil},
		{"SHA256:7,0,2-4", "sha256:0,2-4,7", PCRSelection{{"sha256", []int{0, 2, 3, 4, 7}}}},
		{"sha384:23+sha512:0", "sha384:23+sha512:0", nil},
	} {
		sel, err := ParsePCRSelection(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if sel.String() != c.want {
			t.Errorf("%q: String() = %q, want %q", c.in, sel, c.want)
		}
		if c.sel != nil && !slices.EqualFunc(sel, c.sel, func(a, b PCRBank) bool { return a.Bank == b.Bank && slices.Equal(a.Indices, b.Indices) }) {
			t.Errorf("%q: %v, want %v", c.in, sel, c.sel)
		}
		again, err := ParsePCRSelection(sel.String())
		if err != nil || again.String() != sel.String() {
			t.Errorf("%q: String() does not round-trip: %v %v", c.in, again, err)
		}
	}
	for _, bad := range []string{"", "sha256", "md5:1", "sha256:24", "sha256:-1", "sha256:3-1", "sha256:1,1", "sha256:1+sha256:2", "sha256:", "sha256:a"} {
		if sel, err := ParsePCRSelection(bad); err == nil {
			t.Errorf("%q: got %v, want an error", bad, sel)
		}
	}
	if def, err := ParsePCRSelection(DefaultPCRSelection); err != nil || len(def) != 1 || len(def[0].Indices) != 11 {
		t.Errorf("default selection %q: %v %v", DefaultPCRSelection, def, err)
	}
}
