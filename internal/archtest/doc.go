// Package archtest holds tests of the project's structure: every package
// has a package comment, leaf packages stay leaves, and the media node links
// nothing of the control plane.
package archtest
