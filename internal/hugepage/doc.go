// Package hugepage asks the kernel to back a large buffer with huge pages
// before it is first written.
//
// A buffer of tens of megabytes that is filled once (a decoded DSSE
// payload) takes a page fault per 4 KiB page on first touch; on a virtual
// machine each fault is costly (about 6 µs here, 30 ms for an 18 MB
// payload, on the verifier's sequential path). With transparent huge
// pages in "madvise" mode, the kernel's default on Debian, Advise makes
// those 2 MiB faults instead: a few dozen. Go's runtime no longer asks for
// huge pages itself (since Go 1.21.1). Elsewhere, and where the kernel
// refuses, Advise does nothing: it is advice, and the buffer works the
// same without it.
package hugepage
