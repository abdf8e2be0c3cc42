package store

// restrictFiles relies on the ACLs inherited from data_dir, which the installer restricts to
// the service account and administrators.
func restrictFiles(string) error { return nil }
