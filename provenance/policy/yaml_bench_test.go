package policy_test

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// BenchmarkPolicyYAML decodes a policy with 1,000 allowlisted paths into a
// node tree (what the loader does for line numbers) with go.yaml.in/yaml/v3.
// Its comparison with the archived gopkg.in/yaml.v3 it replaced is recorded
// in docs/benchmarks.md; the archived module is no longer a dependency.
func BenchmarkPolicyYAML(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("version: 1\nima:\n  allow:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "    - path: /usr/lib/x86_64-linux-gnu/lib%04d.so.1\n      digests: [sha256:%064x]\n", i, i)
	}
	doc := []byte(sb.String())
	b.Run("go.yaml.in", func(b *testing.B) {
		for range b.N {
			var n yaml.Node
			if err := yaml.Unmarshal(doc, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
