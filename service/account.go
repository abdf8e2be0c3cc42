package service

// Account is the dedicated account the service runs as and what it must reach.
type Account struct {
	User  string
	Home  string   // its home folder (data_dir): never created as a home, no login shell
	Own   []string // folders that are the service's alone (data_dir, log folder): created 0700, given to the user
	Write []string // folders shared with the clinical software (inputs, import): created 0700 for the user when missing, checked when present
	Read  []string // files it must read (the configuration, certificates, keys)
}

// allowed says whether a user (uid, with groups gids) has every permission in need (bits of
// 4 read, 2 write, 1 execute/search) on a file with this mode and owner. Root has them all.
func allowed(mode uint32, fileUID, fileGID, uid uint32, gids []uint32, need uint32) bool {
	if uid == 0 {
		return true
	}
	var bits uint32
	switch {
	case fileUID == uid:
		bits = mode >> 6 & 7
	case containsID(gids, fileGID):
		bits = mode >> 3 & 7
	default:
		bits = mode & 7
	}
	return bits&need == need
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
