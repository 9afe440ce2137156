package wire

// NewInternalVersionTable builds the table of a listener that serves other nodes rather than
// clients (the controller listener): the rules are NewVersionTable's, except that the
// inter-broker and KRaft keys are allowed.
func NewInternalVersionTable(ranges ...VersionRange) (VersionTable, error) {
	var t VersionTable
	for _, r := range ranges {
		var err error
		if t, err = t.with(r, true); err != nil {
			return VersionTable{}, err
		}
	}
	return t, nil
}
