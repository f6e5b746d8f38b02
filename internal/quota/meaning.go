package quota

const (
	// UsedRemaining reads X-ratelimit-used as the number of requests remaining
	// in the window, as the vendor's documentation says despite the name. It is
	// the default.
	UsedRemaining UsedMeaning = iota
	// UsedUsed reads X-ratelimit-used as the number of requests already used in
	// the window, for servers that follow the header's name.
	UsedUsed
	// UsedAuto infers the meaning from how the value moves between responses
	// within a window: it falls with our requests if it counts what remains and
	// rises if it counts what was used. Until two responses tell, requests for
	// the key are sent one at a time.
	UsedAuto
)

// undecided reports whether the meaning of X-ratelimit-used is still being
// inferred. It requires q.mu held.
func (q *Key) undecided() bool {
	return q.meaning == UsedAuto && q.vendor
}

// remaining converts the response's count to "requests remaining", or -1 when
// unknown. It requires q.mu held.
func (q *Key) remaining(sig *Observation, t *Ticket) int64 {
	if sig.Count < 0 {
		return -1
	}
	if !sig.Vendor {
		return sig.Count
	}
	switch q.meaning {
	case UsedRemaining:
		return sig.Count
	case UsedUsed:
		if q.limit <= 0 {
			return -1
		}
		return max(q.limit-sig.Count, 0)
	}
	// Auto: compare with the first value seen, for a later request.
	if q.autoVal < 0 {
		q.autoVal, q.autoSeq = sig.Count, t.seq
		return -1
	}
	if t.seq > q.autoSeq && sig.Count != q.autoVal {
		if sig.Count > q.autoVal {
			q.meaning = UsedUsed
		} else {
			q.meaning = UsedRemaining
		}
		return q.remaining(sig, t)
	}
	return -1
}
