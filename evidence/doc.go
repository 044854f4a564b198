// Package evidence reads and replays Linux IMA measurement logs.
package evidence
