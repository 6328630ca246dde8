package db

// GroupQueued reports how many Tx calls wait in the SQLite group committer's
// queue (abandoned ones included until the committer skips them), so tests
// can line callers up behind a running fn.
func GroupQueued(d *DB) int {
	if d.group == nil {
		return 0
	}
	d.group.mu.Lock()
	defer d.group.mu.Unlock()
	return len(d.group.queue)
}
