package main

// clientRequest sends a valgrind client request: args holds the request code
// and up to five arguments. It returns valgrind's answer, or 0 when the
// program is not running under valgrind.
//
//go:noescape
func clientRequest(args *[6]uint64) uint64
