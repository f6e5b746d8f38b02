//go:build race

package ratehttp

const raceEnabled = true
