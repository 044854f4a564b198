// Package provenance runs a build, assembles, signs and verifies its attestations, and holds the verification policy.
package provenance
