//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlstore

// sqliteBulkLock is nil: without flock a running bulk load cannot be told
// from an abandoned one, so none begins, and an Open that finds one
// unfinished (a database copied from elsewhere) builds its indexes.
var sqliteBulkLock *bulkLock
