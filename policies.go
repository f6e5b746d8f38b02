package ratehttp

import (
	"time"

	iquota "github.com/ratehttp/ratehttp/internal/quota"
)

// Several limits per key (issue 19). A response may describe several
// policies: per second and per hour, APIG's API, user, app and IP limits,
// OpenAI's and Anthropic's requests and tokens. The quota's model paces by
// the policy that binds (see parseSignal's choice); the others are the
// engine's gates (internal/quota's gates.go, whose notes say what a token
// quota does and does not guarantee). This file holds what the root package
// adds: which dialects describe several policies, and their public state.

// multiPolicy reports whether responses of dialect d may describe several
// policies, so that their detail is worth parsing.
func multiPolicy(d dialect) bool {
	switch d {
	case dialectIETF, dialectOpenAI, dialectAnthropic, dialectAPIG:
		return true
	}
	return false
}

// PolicyState is one of several limits a server reports for a quota, beside
// the one the Transport paces by (see [QuotaState.Policies]).
type PolicyState struct {
	// Name is the policy's name as the server gave it ("user", "tokens",
	// an IETF policy's name), or "" when it gave none.
	Name string
	// Unit is what it counts: "requests" or "tokens" (Anthropic's
	// "input-tokens" and "output-tokens" too).
	Unit string
	// Limit is its quota; Remaining the Transport's estimate of what is
	// left: the server's newest count less what was sent since. For a token
	// policy, the count rises continuously towards Limit as the server's
	// bucket refills (full at Reset), and what was sent since is the tokens
	// requests declared with [TokenCost].
	Limit, Remaining int64
	// Reset is when it is full again; zero when unknown or passed.
	Reset time.Time
	// TokensPerRequest is, for a token policy, the tokens an average
	// request took from it, as the Transport learned from the server's
	// counts between the answers it read (the fall of remaining plus the
	// refill, over the requests sent in between; a moving average). It
	// counts every request the server counted, declared or not, and those
	// of other clients of the same quota: a starting point for [TokenCost].
	// It is 0 for a request policy and until learned.
	TokensPerRequest float64
}

// policyStates converts the engine's view of a key's other policies.
func policyStates(vs []iquota.PolicyView) []PolicyState {
	if len(vs) == 0 {
		return nil
	}
	out := make([]PolicyState, len(vs))
	for i, v := range vs {
		out[i] = PolicyState{Name: clean(v.Name, 64), Unit: unitName(v.Unit), Limit: v.Limit, Remaining: v.Remaining, Reset: v.Reset, TokensPerRequest: v.TokensPerRequest}
	}
	return out
}

func unitName(u quotaUnit) string {
	switch u {
	case unitRequests:
		return "requests"
	case unitTokens:
		return "tokens"
	case unitInputTokens:
		return "input-tokens"
	case unitOutputTokens:
		return "output-tokens"
	}
	return "other"
}
