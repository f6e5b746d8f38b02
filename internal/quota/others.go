package quota

import "time"

// observeOthers folds into otherRate that others took n requests of the quota
// in d: the fall of remaining between two of our responses that our own
// requests do not explain. It requires q.mu held.
func (q *Key) observeOthers(n int64, d time.Duration) {
	if d <= 0 {
		return
	}
	const alpha = 0.25
	inst := float64(max(n, 0)) / d.Seconds()
	q.otherRate += alpha * (inst - q.otherRate)
	if q.window > 0 {
		// Others may take the quota faster than its average rate, but a
		// rate that spends a window's quota in a tenth of it is noise.
		q.otherRate = min(q.otherRate, 10*float64(q.limit)/q.window.Seconds())
	}
}
