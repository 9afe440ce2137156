// Package wait blocks in a select; an empty one, so that only the select rule applies (a select
// with cases breaks the channel rule as well).
package wait

// Forever never returns.
func Forever() {
	select {} // want select
}
