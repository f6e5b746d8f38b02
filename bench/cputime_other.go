//go:build !unix

package bench

import "time"

// CPUTime reports that the platform gives no process CPU time.
func CPUTime() (time.Duration, bool) { return 0, false }
