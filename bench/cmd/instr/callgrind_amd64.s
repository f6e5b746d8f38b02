#include "textflag.h"

// func clientRequest(args *[6]uint64) uint64
//
// Valgrind's client request on amd64: RAX points to the request and its
// arguments, RDX holds the value returned when not running under valgrind.
// The four rotations of DI (by 128 bits in all, so DI is unchanged) followed
// by XCHGQ BX, BX are a no-op on the CPU, and the marker valgrind's
// translator replaces with the request, leaving its answer in RDX.
TEXT ·clientRequest(SB), NOSPLIT, $0-16
	MOVQ	args+0(FP), AX
	MOVQ	$0, DX
	ROLQ	$3, DI
	ROLQ	$13, DI
	ROLQ	$61, DI
	ROLQ	$51, DI
	XCHGQ	BX, BX
	MOVQ	DX, ret+8(FP)
	RET
