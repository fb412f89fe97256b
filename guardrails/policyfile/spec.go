package policyfile

// The policy file, as typed structs (see decode.go for the field kinds).
// Every key is optional; the builder in build.go checks what the types
// cannot and turns the sections into guards.

type document struct {
	Version   integer         `yaml:"version"`
	Mode      choice[modes]   `yaml:"mode"`
	Tools     byName[strList] `yaml:"tools" want:"must map tool names to lists of tags"`
	Allow     *matchSpec      `yaml:"allow"`
	Deny      *matchSpec      `yaml:"deny"`
	Approve   *matchSpec      `yaml:"approve"`
	Arguments []argSpec       `yaml:"arguments" want:"must be a list of rules"`
	Schemas   *schemaSpec     `yaml:"schemas"`
	Network   *networkSpec    `yaml:"network"`
	Budget    *budgetSpec     `yaml:"budget"`
	Sequences []sequenceSpec  `yaml:"sequences" want:"must be a list of rules"`
	Injection *injectionSpec  `yaml:"injection"`
	RRMGate   *gateSpec       `yaml:"rrm_gate"`
	Approval  *approvalSpec   `yaml:"approval"`
}

// matchSpec selects tools by name or tag.
type matchSpec struct {
	node
	Tools strList `yaml:"tools"`
	Tags  strList `yaml:"tags"`
}

type argSpec struct {
	node
	Match         matchSpec        `yaml:",inline"`
	Name          str              `yaml:"name"`
	Field         str              `yaml:"field"`
	Deny          pattern          `yaml:"deny"`
	Allow         pattern          `yaml:"allow"`
	CaseSensitive boolean          `yaml:"case_sensitive"`
	Verdict       choice[verdicts] `yaml:"verdict"`
}

type schemaSpec struct {
	node
	FromTools boolean         `yaml:"from_tools"`
	Tools     byName[jsonDoc] `yaml:"tools" want:"must map tool names to JSON schemas"`
}

type networkSpec struct {
	node
	Match         matchSpec `yaml:",inline"`
	AllowDomains  strList   `yaml:"allow_domains"`
	DenyDomains   strList   `yaml:"deny_domains"`
	AllowPrivate  boolean   `yaml:"allow_private"`
	AllowLoopback boolean   `yaml:"allow_loopback"`
	AllowMetadata boolean   `yaml:"allow_metadata"`
	Resolve       boolean   `yaml:"resolve"`
	AllowCIDRs    strList   `yaml:"allow_cidrs"`
	DenyCIDRs     strList   `yaml:"deny_cidrs"`
	Schemes       strList   `yaml:"schemes"`
	Ports         []integer `yaml:"ports"`
}

type budgetSpec struct {
	node
	MaxCalls        integer         `yaml:"max_calls"`
	MaxDuration     duration        `yaml:"max_duration"`
	MaxCallsPerTool byName[integer] `yaml:"max_calls_per_tool" want:"must map tool names (or \"*\") to numbers"`
}

type sequenceSpec struct {
	node
	Name    str              `yaml:"name"`
	After   *matchSpec       `yaml:"after"`
	Deny    *matchSpec       `yaml:"deny"`
	Verdict choice[verdicts] `yaml:"verdict"`
}

type injectionSpec struct {
	node
	Match     matchSpec              `yaml:",inline"`
	Mode      choice[injectionModes] `yaml:"mode"`
	Threshold fraction               `yaml:"threshold"`
	FenceAll  boolean                `yaml:"fence_all"`
}

type gateSpec struct {
	node
	Match        matchSpec           `yaml:",inline"`
	Judge        str                 `yaml:"judge"`
	Threshold    fraction            `yaml:"threshold"`
	Verdict      choice[verdicts]    `yaml:"verdict"`
	OnJudgeError choice[judgeErrors] `yaml:"on_judge_error"`
	Timeout      duration            `yaml:"timeout"`
	Flags        pattern             `yaml:"flags"`
}

type approvalSpec struct {
	node
	Timeout  duration     `yaml:"timeout"`
	Terminal boolean      `yaml:"terminal"`
	Webhook  *webhookSpec `yaml:"webhook"`
}

type webhookSpec struct {
	node
	URL       str      `yaml:"url"`
	SecretEnv str      `yaml:"secret_env"`
	Timeout   duration `yaml:"timeout"`
}

// The sets of words some keys take.
type (
	modes          struct{}
	verdicts       struct{}
	injectionModes struct{}
	judgeErrors    struct{}
)

func (modes) options() []string          { return []string{"block", "abort"} }
func (verdicts) options() []string       { return []string{"block", "escalate"} }
func (injectionModes) options() []string { return []string{"block", "escalate", "fence"} }
func (judgeErrors) options() []string    { return []string{"block", "allow"} }
