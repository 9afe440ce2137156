// Package typecheck does not compile, so the type-based rules cannot vouch for it.
package typecheck

var count int = "three" // want type-check
