package audit

// Internal functions the external tests reach.
var (
	CanonicalTrajectory = canonicalTrajectory
	CanonicalAssessment = canonicalAssessment
	AppendTrajectory    = appendTrajectory
)
