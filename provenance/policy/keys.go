package policy

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// unknownField matches yaml.v3's message for a key no field takes:
// "field tpmMode not found in type policy.policyFile".
var unknownField = regexp.MustCompile(`field (\S+) not found in type (?:[\w.]+\.)?(\w+)`)

// knownKeys maps each policy YAML struct's type name to its keys, in the
// order of the struct (which docs/policy.md follows).
var knownKeys = func() map[string][]string {
	m := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		if _, done := m[t.Name()]; done {
			return
		}
		var keys []string
		m[t.Name()] = nil
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			keys = append(keys, name)
			walk(f.Type)
		}
		m[t.Name()] = keys
	}
	walk(reflect.TypeFor[policyFile]())
	return m
}()

// explainUnknownKey rewrites yaml.v3's message for an unknown key into one
// that names the keys known at that place and the closest of them, or
// returns msg as it is.
func explainUnknownKey(msg string) string {
	m := unknownField.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	keys, ok := knownKeys[m[2]]
	if !ok {
		return msg
	}
	out := fmt.Sprintf("unknown key %q (known here: %s)", m[1], strings.Join(keys, ", "))
	if c := closest(m[1], keys); c != "" {
		out += fmt.Sprintf("; did you mean %q?", c)
	}
	return out
}

// closest returns the key nearest to s by edit distance (case folded), if
// it is near enough to be a likely misspelling.
func closest(s string, keys []string) string {
	best, bestD := "", -1
	for _, k := range keys {
		d := editDistance(strings.ToLower(s), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
