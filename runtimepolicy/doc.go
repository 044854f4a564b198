// Package runtimepolicy reads and writes Keylime runtime policies, the JSON
// allowlists Keylime's verifier enforces on IMA logs (meta.version 1):
// accepted file digests by path, and exclude regexes.
//
// Writer streams one out as its digests are added, in Keylime's layout, so
// that keylime-policy and Keylime's verifier use the file as it is.
package runtimepolicy
