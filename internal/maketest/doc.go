// Package maketest runs the Makefile's developer targets the way a new
// developer does in their first hour: `make run` builds the binary and
// then becomes the server (stopping it by its PID stops it), and no target
// that serves touches a local PostgreSQL cluster when it has nothing to do
// with one. It also checks that the README names the toolchain the module
// and the race detector need.
//
// It has no code of its own; everything lives in _test.go files.
package maketest
