//! The one description of the `*.test.yaml` file shapes: every mapping a test file has, its
//! keys, what each holds, which are required and what they mean. Two views are made from it:
//!
//! * the parser ([`crate::spec`]) takes each mapping's allowed keys from here, so a key is
//!   accepted exactly when it is described (an unknown key is an error with a suggestion);
//! * the JSON Schema for editors ([`crate::schema::test_schema`]) is generated from here:
//!   properties, types, required keys, the allowed words and every description.
//!
//! Adding a key means adding a [`Field`] here and reading it in `spec.rs`; the schema follows.
use psaflow_halopsa_sandbox::Entity;

/// What the value of a key may be.
#[derive(Debug)]
pub enum Ty {
    /// Text (a number is read as its digits).
    Text,
    /// `true` or `false`.
    Bool,
    /// A whole number, 0 or more.
    Count,
    /// `500ms`, `30s`, `2m`, `1h`, or a number of seconds.
    Duration,
    /// One `${{ ... }}` check.
    Expression,
    /// Text, a number, a boolean or nothing, read as text.
    Scalar,
    /// A mapping whose keys the test author chooses (inputs, fields, parameters).
    Mapping,
    /// A mapping, or a list with one entry per call.
    MappingOrList,
    /// Any YAML value.
    Any,
    /// A node's envelope: StatusCode, OriginalStatusCode, ErrorMessage and one output key.
    Envelope,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// A list of values of this kind.
    List(&'static Ty),
    /// A list of at least one value of this kind.
    NonEmptyList(&'static Ty),
    /// A mapping from names the author chooses (step ids, node ids) to values of this kind.
    MapOf(&'static Ty),
    /// Any one of these.
    OneOf(&'static [Ty]),
    /// A mapping with the keys of this shape.
    Object(&'static Shape),
    /// A mock's answer: an envelope, or the [`MOCK`] mapping (an envelope and a delay).
    MockAnswer,
}

/// One key of a mapping.
#[derive(Debug)]
pub struct Field {
    /// The key as written.
    pub name: &'static str,
    /// What its value may be.
    pub ty: Ty,
    /// The mapping is incomplete without it.
    pub required: bool,
    /// What it means, for people (the schema's hover text).
    pub description: &'static str,
}

/// A mapping of a test file.
#[derive(Debug)]
pub struct Shape {
    /// Its name among the schema's definitions.
    pub def: &'static str,
    /// What the mapping is, for people.
    pub description: &'static str,
    /// Its keys, in the order documentation lists them.
    pub fields: &'static [Field],
}

impl Shape {
    /// The keys the mapping accepts.
    pub fn keys(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.name).collect()
    }

    /// The field called `name`, if the mapping has it.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What `expect.status` may say: the run's status.
pub const RUN_STATUSES: &[&str] = &["succeeded", "failed", "waiting_approval"];
/// What a step's expected status may say.
pub const STEP_STATUSES: &[&str] = &["succeeded", "failed", "skipped"];
/// A decision for a step with `approval:`.
pub const DECISIONS: &[&str] = &["approve", "reject"];
/// Entity names as test files write them: the sandbox's own (the connector owns its entities).
pub const ENTITY_NAMES: &[&str] = Entity::NAMES;

const fn field(name: &'static str, ty: Ty, description: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        description,
    }
}

const fn required(name: &'static str, ty: Ty, description: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        description,
    }
}

/// A whole test file.
pub static TEST_FILE: Shape = Shape {
    def: "test_file",
    description: "Test cases for one workflow, run by `psaflow test`.",
    fields: &[
        required("workflow", Ty::Text, "The workflow file, relative to this file."),
        field(
            "name",
            Ty::Text,
            "The suite's name in reports and JUnit (default: the file name).",
        ),
        field("description", Ty::Text, "What the file tests, for people."),
        required(
            "cases",
            Ty::NonEmptyList(&Ty::Object(&CASE)),
            "The cases; each runs the workflow once with its own inputs, mocks and sandbox.",
        ),
    ],
};

/// One entry of `cases:`.
pub static CASE: Shape = Shape {
    def: "case",
    description: "One run of the workflow and what it must come to.",
    fields: &[
        required("name", Ty::Text, "What the case checks; unique in the file."),
        field("description", Ty::Text, "More about the case, for people."),
        field(
            "skip",
            Ty::OneOf(&[Ty::Bool, Ty::Text]),
            "true or a reason: report the case as skipped instead of running it.",
        ),
        field(
            "inputs",
            Ty::Mapping,
            "The workflow's inputs (checked against its declarations).",
        ),
        field(
            "env",
            Ty::MapOf(&Ty::Scalar),
            "What ${{ env.NAME }} reads (the real environment is not visible).",
        ),
        field(
            "secrets",
            Ty::MapOf(&Ty::Scalar),
            "Like env, and masked as *** in every message, trace and report.",
        ),
        field(
            "sandbox",
            Ty::OneOf(&[Ty::Bool, Ty::Object(&SANDBOX)]),
            "The case's own embedded HaloPSA sandbox; `false` is short for `seed: false`.",
        ),
        field(
            "mocks",
            Ty::MapOf(&Ty::OneOf(&[Ty::MockAnswer, Ty::NonEmptyList(&Ty::MockAnswer)])),
            "Canned envelopes by step id (or node id): one, or a list answering call after call (the last repeats).",
        ),
        field(
            "approvals",
            Ty::MapOf(&Ty::Enum(DECISIONS)),
            "Decisions for steps with `approval:`, by step id; a step without one makes the run wait (expect status: waiting_approval).",
        ),
        field(
            "expect",
            Ty::Object(&EXPECT),
            "What the run must come to.",
        ),
    ],
};

/// `sandbox:` of a case.
pub static SANDBOX: Shape = Shape {
    def: "sandbox",
    description: "The case's own embedded HaloPSA sandbox.",
    fields: &[
        field("seed", Ty::Bool, "Load the demo data (default true)."),
        field(
            "fixtures",
            Ty::List(&Ty::Object(&FIXTURE)),
            "Records stored before the run.",
        ),
    ],
};

/// One entry of `sandbox.fixtures`.
pub static FIXTURE: Shape = Shape {
    def: "fixture",
    description: "A record stored in the sandbox before the run.",
    fields: &[
        required("entity", Ty::Enum(ENTITY_NAMES), "The kind of record."),
        required(
            "record",
            Ty::Mapping,
            "Its fields, as the HaloPSA API names them.",
        ),
    ],
};

/// A mock answer written with a delay: `{ delay, envelope }`.
pub static MOCK: Shape = Shape {
    def: "mock_with_delay",
    description: "An envelope returned after a virtual delay.",
    fields: &[
        required("envelope", Ty::Envelope, "The envelope the step gets."),
        field(
            "delay",
            Ty::Duration,
            "Virtual time the call takes (counts toward the step's timeout).",
        ),
    ],
};

/// `expect:` of a case.
pub static EXPECT: Shape = Shape {
    def: "expect",
    description: "What the run must come to; every expectation is checked and every miss reported.",
    fields: &[
        field(
            "status",
            Ty::Enum(RUN_STATUSES),
            "The run's status (default succeeded).",
        ),
        field(
            "error",
            Ty::Text,
            "Text the run's (or a step's) error contains.",
        ),
        field(
            "steps",
            Ty::MapOf(&Ty::OneOf(&[Ty::Enum(STEP_STATUSES), Ty::Object(&STEP_EXPECT)])),
            "Expectations by step id: a status, or a mapping.",
        ),
        field(
            "outputs",
            Ty::Mapping,
            "These outputs at least; values may be ${{ }} checks.",
        ),
        field(
            "calls",
            Ty::MapOf(&Ty::OneOf(&[Ty::Count, Ty::Object(&CALL_EXPECT)])),
            "Calls by node id (or step id): a count, or { times, with }.",
        ),
        field(
            "sandbox",
            Ty::List(&Ty::Object(&STATE_EXPECT)),
            "Records that must (or must not) be in the sandbox after the run.",
        ),
        field(
            "waits",
            Ty::List(&Ty::Duration),
            "Every wait on the virtual clock, in order.",
        ),
        field(
            "assert",
            Ty::OneOf(&[Ty::Expression, Ty::List(&Ty::Expression)]),
            "Checks that must be true, e.g. \"${{ outputs.client_id == steps.client.Client.id }}\".",
        ),
    ],
};

/// The expectations of one step (`expect.steps.<id>`).
pub static STEP_EXPECT: Shape = Shape {
    def: "step_expect",
    description: "What one step must come to.",
    fields: &[
        field("status", Ty::Enum(STEP_STATUSES), "The step's status."),
        field(
            "attempts",
            Ty::Count,
            "Attempts made, retries included (summed over items for for_each).",
        ),
        field(
            "envelope",
            Ty::Any,
            "These keys at least (a list for a for_each step).",
        ),
        field("envelope_equals", Ty::Any, "Exactly this envelope."),
        field("params", Ty::Mapping, "These parameters at least."),
        field("error", Ty::Text, "Text the step's error contains."),
    ],
};

/// The expected calls of one node or step (`expect.calls.<id>`).
pub static CALL_EXPECT: Shape = Shape {
    def: "call_expect",
    description: "The calls of one node (or step).",
    fields: &[
        field("times", Ty::Count, "How many calls."),
        field(
            "with",
            Ty::MappingOrList,
            "A mapping every call matches, or a list with one entry per call.",
        ),
    ],
};

/// One entry of `expect.sandbox`.
pub static STATE_EXPECT: Shape = Shape {
    def: "sandbox_expect",
    description: "A record that must (or must not) be in the sandbox after the run.",
    fields: &[
        required("entity", Ty::Enum(ENTITY_NAMES), "The kind of record."),
        field(
            "where",
            Ty::Mapping,
            "Field values the record has (a subset match; values may be ${{ }} checks).",
        ),
        field(
            "exists",
            Ty::Bool,
            "false: no such record may exist (default true).",
        ),
        field("count", Ty::Count, "Exactly this many such records."),
    ],
};

/// Every shape, for checks that walk them all.
pub static ALL: &[&Shape] = &[
    &TEST_FILE,
    &CASE,
    &SANDBOX,
    &FIXTURE,
    &MOCK,
    &EXPECT,
    &STEP_EXPECT,
    &CALL_EXPECT,
    &STATE_EXPECT,
];
