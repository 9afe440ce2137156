package client

// ErrorRetriable exposes errorRetriable to the table test.
var ErrorRetriable = errorRetriable
