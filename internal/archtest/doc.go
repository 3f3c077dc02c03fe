// Package archtest holds tests that guard the shape of the repository rather
// than its behaviour: the dependency rule of the hexagon (arch_test.go), a thin
// composition root (assembly_test.go) and the deployment files that no Docker
// engine here can run (compose_test.go).
//
// It has no code of its own; everything lives in _test.go files.
package archtest
